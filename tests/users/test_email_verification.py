"""E-mail verification: the e-mail sign-up sends, the verify and resend endpoints, and what an
unverified account may not do while REQUIRE_EMAIL_VERIFICATION is on."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail, signing
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.cart.models import CartItem
from apps.media.models import MediaAsset
from apps.orders.models import Order
from apps.reviews.models import Comment, Review
from apps.users.models import User
from apps.users.services.accounts import (
    EMAIL_VERIFICATION_SALT,
    email_verification_claims,
    email_verification_token,
)
from tests.assertions import assert_problem
from tests.conftest import auth_client
from tests.inventory.factories import stocked_variant
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

STRONG = "plum-orchard-lantern-91"
ROOT = Path(__file__).resolve().parents[2]
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"


def token_in(message) -> str:
    match = re.search(r"/verify-email\?token=(\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_signup_keeps_its_contract_and_sends_the_link_after_commit(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client.post(
            "/api/v1/auth/signup", {"email": "new@example.com", "password": STRONG, "name": "N"}
        )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"]["email_verified"] is False
    assert len(callbacks) >= 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert "Confirm your e-mail address" in message.subject
    user = User.objects.get()
    assert user.email_verified_at is None

    verified = api_client.post(VERIFY, {"token": token_in(message)})

    assert verified.status_code == 204
    user.refresh_from_db()
    assert user.email_verified_at is not None
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/v1/me").json()["email_verified"] is True


def test_verifying_twice_changes_nothing(api_client):
    user = UserFactory()
    token = email_verification_token(user=user)
    assert api_client.post(VERIFY, {"token": token}).status_code == 204
    user.refresh_from_db()
    first = user.email_verified_at

    assert api_client.post(VERIFY, {"token": token}).status_code == 204

    user.refresh_from_db()
    assert user.email_verified_at == first


def claims_of(user) -> dict:
    return email_verification_claims(user_id=user.pk, email=user.email)


def forged(user, key: str) -> str:
    return signing.dumps(claims_of(user), key=key, salt=EMAIL_VERIFICATION_SALT)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: forged(user, "another-key-" + "x" * 50), id="other-key"),
        pytest.param(lambda user: email_verification_token(user=user)[:-2] + "zz", id="tampered"),
        pytest.param(lambda user: signing.dumps(claims_of(user)), id="salt"),
        pytest.param(lambda user: "not-a-token", id="garbage"),
    ],
)
def test_a_forged_or_tampered_token_is_400_and_verifies_nothing(api_client, make_token):
    user = UserFactory()

    response = api_client.post(VERIFY, {"token": make_token(user)})

    assert_problem(response, 400, "auth.invalid_verification_token")
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_an_expired_token_is_400(api_client, settings):
    user = UserFactory()
    token = email_verification_token(user=user)
    settings.EMAIL_VERIFICATION_MAX_AGE = timedelta(seconds=-1)  # every token is older than that

    assert_problem(
        api_client.post(VERIFY, {"token": token}), 400, "auth.invalid_verification_token"
    )
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_token_of_an_address_the_account_no_longer_has_is_400(api_client):
    user = UserFactory(email="old@example.com")
    token = email_verification_token(user=user)
    User.objects.filter(pk=user.pk).update(email="new@example.com")

    assert_problem(
        api_client.post(VERIFY, {"token": token}), 400, "auth.invalid_verification_token"
    )
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_resend_sends_a_new_link_unless_verified(django_capture_on_commit_callbacks):
    user = UserFactory()
    client = auth_client(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESEND)
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert APIClient().post(VERIFY, {"token": token_in(mail.outbox[0])}).status_code == 204

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(RESEND)

    assert again.status_code == 202
    assert len(mail.outbox) == 1  # verified: nothing more is sent


def test_resend_is_throttled_per_account(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "email_verify_resend", "2/hour")
    user = UserFactory()
    client = auth_client(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(RESEND).status_code == 202
        assert client.post(RESEND).status_code == 202
        refused = client.post(RESEND)

    assert_problem(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 60
    assert len(mail.outbox) == 2
    assert auth_client(UserFactory()).post(RESEND).status_code == 202  # another account


def test_resend_needs_a_login(api_client):
    assert_problem(api_client.post(RESEND), 401)


# --- what an unverified account may do


@pytest.fixture
def required(settings):
    settings.REQUIRE_EMAIL_VERIFICATION = True


def gated_requests(client):
    """Each write the rule covers, with a body that would fail later (404, 400): the permission
    answers before the view reads anything."""
    missing = "00000000-0000-0000-0000-000000000000"
    return {
        "order": client.post("/api/v1/orders", {}),
        "review": client.post(f"/api/v1/products/{missing}/reviews", {"rating": 5}),
        "comment": client.post(f"/api/v1/products/{missing}/comments", {"body": "hi"}),
        "upload": client.post("/api/v1/media", {}, format="multipart"),
        "from-url": client.post("/api/v1/media/from-url", {"url": "https://example.com/a.png"}),
        "presign": client.post("/api/v1/media/presign", {}),
        "stream": client.post("/api/v1/notifications/stream-ticket"),
    }


def test_an_unverified_account_cannot_order_review_comment_upload_or_stream(required):
    client = auth_client(UserFactory())

    answers = gated_requests(client)

    for name, response in answers.items():
        body = assert_problem(response, 403, "auth.email_unverified")
        assert "verify-email/resend" in body["detail"], name
    assert not Order.objects.exists()
    assert not Review.objects.exists()
    assert not Comment.objects.exists()
    assert not MediaAsset.objects.exists()


def test_an_unverified_account_may_browse_and_fill_a_cart(required):
    variant = stocked_variant(price="5.00", on_hand=3)
    client = auth_client(UserFactory())

    assert client.get("/api/v1/products").status_code == 200
    assert client.get(f"/api/v1/products/{variant.product.slug}/reviews").status_code == 200
    assert client.get("/api/v1/orders").status_code == 200
    added = client.post("/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": 1})
    assert added.status_code == 201
    assert CartItem.objects.count() == 1


def test_a_verified_account_gets_past_the_rule(required):
    client = auth_client(UserFactory(email_verified_at=timezone.now()))

    answers = gated_requests(client)

    for name, response in answers.items():
        assert response.status_code != 403, (name, response.content)
    assert answers["stream"].status_code == 201
    assert answers["order"].status_code == 400


def test_with_the_rule_off_an_unverified_account_is_not_refused(settings):
    settings.REQUIRE_EMAIL_VERIFICATION = False
    answers = gated_requests(auth_client(UserFactory()))
    assert all(response.status_code != 403 for response in answers.values())


def setting_in(module: str, name: str = "REQUIRE_EMAIL_VERIFICATION", **environment: str) -> str:
    """A setting as `module` sets it, loaded in a process of its own (settings modules change
    shared dicts and read the environment once)."""
    inherited = {
        variable: value
        for variable, value in os.environ.items()
        if variable not in (name, "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {module} as s; print(s.{name})",
        ],
        cwd=ROOT,
        env={**inherited, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_rule_is_on_in_production_and_off_elsewhere(settings):
    strong = secrets.token_urlsafe(64)
    assert setting_in("config.settings.prod", SECRET_KEY=strong) == "True"
    assert setting_in(
        "config.settings.prod", SECRET_KEY=strong, REQUIRE_EMAIL_VERIFICATION="0"
    ) == ("False")
    assert setting_in("config.settings.base") == "False"
    assert setting_in("config.settings.dev") == "False"
    assert settings.REQUIRE_EMAIL_VERIFICATION is False  # the test settings


def test_accounts_an_operator_makes_are_verified():
    admin = User.objects.create_superuser(email="root@example.com", password=STRONG)
    assert admin.email_verified_at is not None


def test_the_link_does_not_carry_the_address(django_capture_on_commit_callbacks):
    user = UserFactory(email="private.person@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        auth_client(user).post(RESEND)
    token = token_in(mail.outbox[0])
    payload = signing.loads(token, salt=EMAIL_VERIFICATION_SALT)
    assert payload == {"user": str(user.pk), "email": payload["email"]}
    assert "private.person" not in repr(payload)
