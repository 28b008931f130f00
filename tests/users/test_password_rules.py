"""Passwords: Django's validators plus whitespace-only, with the contract's 400 (one `/password`
error per failed rule), at sign-up, password change and reset; nothing changes on refusal."""

import pytest
from django.conf import settings

from apps.users.models import User
from apps.users.services.accounts import password_reset_link
from tests.assertions import assert_problem, pointers
from tests.conftest import auth_client
from tests.users.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        (" " * 8, {"password_whitespace_only"}),
        ("\t \n \u2003   ", {"password_whitespace_only"}),
        (" " * 3, {"password_whitespace_only", "password_too_short"}),
        ("password123", {"password_too_common"}),
        ("  qwertyuiop  ", {"password_too_common"}),
        ("iloveyou", {"password_too_common"}),
    ],
)
def test_signup_refuses_whitespace_only_and_common_passwords(api_client, password, codes):
    response = api_client.post(
        "/api/v1/auth/signup", {"email": "p@example.com", "password": password, "name": "P"}
    )

    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/password"}
    assert {error["code"] for error in body["errors"]} == codes
    assert all(error["detail"] for error in body["errors"])
    assert not User.objects.exists()


def test_a_password_with_spaces_inside_is_fine(api_client):
    response = api_client.post(
        "/api/v1/auth/signup",
        {"email": "p@example.com", "password": "  plum orchard lantern  ", "name": "P"},
    )
    assert response.status_code == 201
    assert User.objects.get().check_password("  plum orchard lantern  ")


def test_password_change_refuses_a_whitespace_only_password(user):
    response = auth_client(user).post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": " " * 12}
    )

    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/new_password"}
    assert body["errors"][0]["code"] == "password_whitespace_only"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_refuses_a_common_password(api_client):
    user = UserFactory()
    uid, token = password_reset_link(user=user)

    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "password1"},
    )

    body = assert_problem(response, 400, "invalid")
    assert {error["code"] for error in body["errors"]} == {"password_too_common"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_the_validators_are_djangos_and_ours():
    names = [validator["NAME"].rsplit(".", 1)[1] for validator in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
        "NotOnlyWhitespaceValidator",
    ]
