"""Ending sessions ends access tokens too.

Logout-all, a password change and a password reset set the user's `tokens_valid_after`; every
token issued before it, access or refresh, is refused with 401 `auth.token_revoked`. `iat` has
one-second granularity, so a token issued in the same second as the revocation stays valid.
Times are frozen so that "before" and "the same second" do not depend on the machine's speed.
"""

import datetime as dt
from collections.abc import Callable

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.users.models import User
from apps.users.services import password_reset_link, session_revoke_all
from tests.users.assertions import assert_problem
from tests.users.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "amber-lighthouse-quill-58"
T0 = dt.datetime(2031, 3, 4, 12, 0, 0, 100000, tzinfo=dt.UTC)  # 12:00:00.100

ACCESS_REVOKED = {
    "type": "https://errors.marketplace.dev/auth.token_revoked",
    "title": "Token revoked",
    "status": 401,
    "detail": "This token was revoked: the account signed out everywhere or its password "
    "changed. Sign in again.",
    "code": "auth.token_revoked",
}
REFRESH_REVOKED = {
    **ACCESS_REVOKED,
    "detail": "This refresh token was revoked: the account signed out everywhere or its "
    "password changed. Sign in again.",
}


def login(email: str, password: str = DEFAULT_PASSWORD) -> dict:
    response = APIClient().post("/api/v1/auth/login", {"email": email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def refresh(token: str):
    return APIClient().post("/api/v1/auth/refresh", {"refresh": token})


# --- the three revocations, through the API. Each gets the user and an access token of theirs
# and returns the password that signs in afterwards.


def logout_all(user: User, access: str) -> str:
    response = bearer(access).post("/api/v1/auth/logout-all")
    assert response.status_code == 204
    return DEFAULT_PASSWORD


def password_change(user: User, access: str) -> str:
    response = bearer(access).post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    return NEW_PASSWORD


def password_reset_confirm(user: User, access: str) -> str:
    user.refresh_from_db()  # the link hashes last_login, which the login just set
    uid, token = password_reset_link(user=user)
    response = APIClient().post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204
    return NEW_PASSWORD


Revocation = Callable[[User, str], str]
each_revocation = pytest.mark.parametrize(
    "revoke",
    [logout_all, password_change, password_reset_confirm],
    ids=["logout_all", "password_change", "password_reset_confirm"],
)


def assert_access_revoked(access: str) -> None:
    response = bearer(access).get("/api/v1/me")
    assert_problem(response, 401, "auth.token_revoked")
    assert response.json() == ACCESS_REVOKED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def assert_access_works(access: str, user: User) -> None:
    response = bearer(access).get("/api/v1/me")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.pk)


# --- access tokens


@each_revocation
def test_access_token_issued_before_is_refused(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        assert_access_works(session["access"], user)

        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, session["access"])

        assert_access_revoked(session["access"])
        user.refresh_from_db()
        assert user.tokens_valid_after == T0 + dt.timedelta(seconds=5)
        # every endpoint, not just /me
        assert_problem(
            bearer(session["access"]).get("/api/v1/me/addresses"), 401, "auth.token_revoked"
        )


@each_revocation
def test_new_login_after_revocation_works(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, old["access"])

        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)
        assert_access_works(new["access"], user)
        rotated = refresh(new["refresh"])
        assert rotated.status_code == 200
        assert_access_works(rotated.json()["access"], user)
        assert_access_revoked(old["access"])


@each_revocation
def test_login_in_the_same_second_right_after_revocation_works(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5, milliseconds=200))  # 12:00:05.300
        password = revoke(user, old["access"])

        clock.move_to(T0 + dt.timedelta(seconds=5, milliseconds=600))  # 12:00:05.700
        new = login(user.email, password)
        assert_access_works(new["access"], user)
        assert refresh(new["refresh"]).status_code == 200


@each_revocation
def test_access_token_of_the_same_second_before_revocation_stays_valid(revoke: Revocation, user):
    # The known limit of one-second `iat`: issued at 12:00:00.100, revoked at 12:00:00.800.
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(milliseconds=700))
        revoke(user, session["access"])
        assert_access_works(session["access"], user)


@each_revocation
def test_access_token_of_the_previous_second_is_refused(revoke: Revocation, user):
    # Only 0.2 s apart, but across a second boundary: 11:59:59.900 and 12:00:00.100.
    with freeze_time(T0 - dt.timedelta(milliseconds=200)) as clock:
        session = login(user.email)
        clock.move_to(T0)
        revoke(user, session["access"])
        assert_access_revoked(session["access"])


@each_revocation
def test_other_users_tokens_are_unaffected(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        bystander = UserFactory()
        theirs = login(bystander.email)
        mine = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, mine["access"])

        assert_access_revoked(mine["access"])
        assert_access_works(theirs["access"], bystander)
        assert refresh(theirs["refresh"]).status_code == 200
        bystander.refresh_from_db()
        assert bystander.tokens_valid_after is None


@each_revocation
def test_anonymous_is_still_401_not_authenticated(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, session["access"])
        response = APIClient().get("/api/v1/me")
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert response.json() == {
            "type": "https://errors.marketplace.dev/auth.not_authenticated",
            "title": "Authentication required",
            "status": 401,
            "detail": "Authentication credentials were not provided.",
            "code": "auth.not_authenticated",
        }


# --- refresh tokens


@each_revocation
def test_refresh_token_issued_before_is_refused_and_new_sessions_survive(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, old["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)
        blacklisted = BlacklistedToken.objects.count()

        response = refresh(old["refresh"])
        assert_problem(response, 401, "auth.token_revoked")
        assert response.json() == REFRESH_REVOKED
        # Not treated as reuse: the session opened after the revocation is not revoked with it.
        assert BlacklistedToken.objects.count() == blacklisted
        rotated = refresh(new["refresh"])
        assert rotated.status_code == 200
        assert_access_works(rotated.json()["access"], user)


@each_revocation
def test_rotated_refresh_token_issued_before_is_revoked_not_reused(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        first = login(user.email)["refresh"]
        second = refresh(first).json()
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, second["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)

        for presented in (first, second["refresh"]):
            assert refresh(presented).json() == REFRESH_REVOKED
        assert refresh(new["refresh"]).status_code == 200


def test_reuse_after_a_revocation_is_still_detected(user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        logout_all(user, old["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        r1 = login(user.email)["refresh"]
        r2 = refresh(r1).json()["refresh"]

        assert_problem(refresh(r1), 401, "auth.token_reused")
        assert_problem(refresh(r2), 401, "auth.token_reused")


# --- what does not revoke


def test_failed_password_change_revokes_nothing(user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        response = bearer(session["access"]).post(
            "/api/v1/me/password", {"old_password": "wrong", "new_password": NEW_PASSWORD}
        )
        assert_problem(response, 400, "auth.wrong_password")
        user.refresh_from_db()
        assert user.tokens_valid_after is None
        assert not BlacklistedToken.objects.exists()
        assert_access_works(session["access"], user)
        assert refresh(session["refresh"]).status_code == 200


def test_invalid_reset_link_revokes_nothing(user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        uid, _ = password_reset_link(user=user)
        response = APIClient().post(
            "/api/v1/auth/password-reset/confirm",
            {"uid": uid, "token": "5x3-0123456789abcdef0123", "new_password": NEW_PASSWORD},
        )
        assert_problem(response, 400, "auth.invalid_reset_token")
        user.refresh_from_db()
        assert user.tokens_valid_after is None
        assert_access_works(session["access"], user)


def test_logout_of_one_session_keeps_access_tokens(user):
    with freeze_time(T0) as clock:
        one = login(user.email)
        two = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        assert (
            bearer(one["access"])
            .post("/api/v1/auth/logout", {"refresh": one["refresh"]})
            .status_code
            == 204
        )
        user.refresh_from_db()
        assert user.tokens_valid_after is None
        assert_access_works(two["access"], user)
        assert refresh(two["refresh"]).status_code == 200


def test_deactivated_user_is_refused_as_before(user):
    session = login(user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = bearer(session["access"]).get("/api/v1/me")
    body = assert_problem(response, 401, "auth.authentication_failed")
    assert body["detail"] == "User is inactive"


# --- service and admin


def test_session_revoke_all_sets_the_cutoff_and_blacklists_every_refresh_token(user):
    with freeze_time(T0) as clock:
        for _ in range(2):
            login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        assert session_revoke_all(user=user) == 2
        assert User.objects.get(pk=user.pk).tokens_valid_after == T0 + dt.timedelta(seconds=5)
        assert not OutstandingToken.objects.filter(
            user=user, blacklistedtoken__isnull=True
        ).exists()


def test_admin_sign_out_everywhere_ends_access_tokens(client, admin_user, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        client.force_login(admin_user)  # a session of the frozen time
        response = client.post(
            "/admin/users/user/",
            {"action": "sign_out_everywhere", "_selected_action": [str(user.pk)]},
        )
        assert response.status_code == 302
        assert response["Location"] == "/admin/users/user/"
        assert_access_revoked(session["access"])
        assert refresh(session["refresh"]).json() == REFRESH_REVOKED


# --- cost


def test_authenticated_get_me_queries(user, django_assert_num_queries):
    User.objects.filter(pk=user.pk).update(
        tokens_valid_after=dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1)
    )
    client = bearer(login(user.email)["access"])
    # one SELECT authenticates (tokens_valid_after included), one reads the user with the shop
    with django_assert_num_queries(2):
        response = client.get("/api/v1/me")
    assert response.status_code == 200
