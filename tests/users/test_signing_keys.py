"""JWTs are HMAC-signed with JWT_SIGNING_KEY (SECRET_KEY by default): a token signed with any
other key is refused, and so is every token signed with the old key once the key is rotated
(docs/security.md, "Rotating the signing key")."""

import secrets

import jwt
import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.settings import api_settings

from apps.users.services.sessions import session_tokens_issue
from tests.assertions import assert_problem
from tests.users.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

OTHER_KEYS = {
    "random": secrets.token_urlsafe(64),
    # the development default and the .env.example placeholder: a forged staff token was
    # accepted against the former
    "dev default": "dev-insecure-secret-key-change-me-0123456789abcdef",
    "placeholder": "change-me-to-a-long-random-string-of-at-least-50-chars",
    "short": "k",
}


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def resigned(token: str, key: str, algorithm: str = "HS256") -> str:
    """The same claims, signed with another key."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize("key", sorted(OTHER_KEYS))
def test_an_access_token_signed_with_another_key_is_refused(key):
    staff = UserFactory(is_staff=True)
    access = session_tokens_issue(user=staff)["access"]
    assert bearer(access).get("/api/v1/api-keys").status_code == 200

    forged = resigned(access, OTHER_KEYS[key])

    response = bearer(forged).get("/api/v1/api-keys")
    assert_problem(response, 401, "auth.authentication_failed")


@pytest.mark.parametrize("key", sorted(OTHER_KEYS))
def test_a_refresh_token_signed_with_another_key_is_refused(api_client, key):
    user = UserFactory()
    refresh = session_tokens_issue(user=user)["refresh"]

    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh": resigned(refresh, OTHER_KEYS[key])}
    )

    assert_problem(response, 401, "auth.token_invalid")


def test_an_unsigned_token_is_refused():
    access = session_tokens_issue(user=UserFactory())["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]

    assert_problem(bearer(unsigned).get("/api/v1/me"), 401, "auth.authentication_failed")


@pytest.fixture
def rotate(monkeypatch):
    """Restart the service with a new signing key (what changing SECRET_KEY or JWT_SIGNING_KEY
    and restarting every process does): the token backend verifies with the new key only."""

    def to(new_key: str) -> None:
        # simplejwt builds its backend from the settings once, at start-up (state.py)
        rotated = TokenBackend(api_settings.ALGORITHM, new_key, api_settings.VERIFYING_KEY)
        monkeypatch.setattr(state, "token_backend", rotated)

    return to


def test_after_rotating_the_key_tokens_of_the_old_key_are_refused(api_client, rotate):
    user = UserFactory(email="rotated@example.com")
    old = session_tokens_issue(user=user)
    assert bearer(old["access"]).get("/api/v1/me").status_code == 200

    rotate(secrets.token_urlsafe(64))

    assert_problem(bearer(old["access"]).get("/api/v1/me"), 401, "auth.authentication_failed")
    refreshed = api_client.post("/api/v1/auth/refresh", {"refresh": old["refresh"]})
    assert_problem(refreshed, 401, "auth.token_invalid")
    # signing in again gives tokens of the new key, which work
    login = api_client.post(
        "/api/v1/auth/login", {"email": "rotated@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200
    assert bearer(login.json()["access"]).get("/api/v1/me").status_code == 200
