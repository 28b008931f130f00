"""Bearer JWT authentication: one SELECT per request (the token's session with its user). A token
is accepted while its session (the `sid` claim) exists, belongs to the token's user and is not
ended; an ended session's tokens are 401 `auth.token_revoked`; a token without a session, or with
an unknown one, is invalid."""

import uuid

import pytest
from django.test import RequestFactory
from rest_framework import exceptions as drf
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import AccessToken

from apps.core.authentication import (
    BearerJWTAuthentication,
    forget_bearer_authentication,
    token_session,
)
from apps.core.exceptions import problem_exception_handler
from apps.users.models import Session, User
from apps.users.services.sessions import session_revoke, session_revoke_all, session_tokens_issue
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

PROBLEM = "application/problem+json"
KEPT = uuid.UUID("6f1c1a3e-5b0e-4c53-9d1e-0a4b8f2d7c10")


@pytest.mark.parametrize(
    ("claims", "session"),
    [
        ({"sid": str(KEPT)}, str(KEPT)),
        ({"sid": str(KEPT).upper()}, str(KEPT)),
        ({}, None),
        ({"sid": "not-a-uuid"}, None),
        ({"sid": 7}, None),
        (None, None),
    ],
)
def test_token_session(claims, session):
    assert token_session(claims) == session


def _private(api_client, access: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api_client.get("/api/v1/test/private")


def test_a_token_of_a_live_session_passes(api_client, user):
    response = _private(api_client, session_tokens_issue(user=user)["access"])
    assert response.status_code == 200
    assert response.json() == {"user": str(user.pk)}


@pytest.mark.parametrize(
    ("end", "detail"),
    [
        (
            lambda user, tokens: session_revoke(user=user, raw_refresh=tokens["refresh"]),
            "This token's session signed out. Sign in again.",
        ),
        (
            lambda user, tokens: session_revoke_all(user=user),
            "This token was revoked: the account signed out everywhere or its password "
            "changed. Sign in again.",
        ),
    ],
    ids=["logout", "logout_all"],
)
def test_a_token_of_an_ended_session_is_401_token_revoked(api_client, user, end, detail):
    tokens = session_tokens_issue(user=user)
    end(user, tokens)
    response = _private(api_client, tokens["access"])
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "type": "https://errors.marketplace.dev/auth.token_revoked",
        "title": "Token revoked",
        "status": 401,
        "detail": detail,
        "code": "auth.token_revoked",
    }


@pytest.mark.parametrize("session", [None, "not-a-uuid", str(KEPT)], ids=["none", "bad", "unknown"])
def test_a_token_without_a_known_session_is_invalid(api_client, user, session):
    token = AccessToken.for_user(user)
    if session is not None:
        token["sid"] = session
    response = _private(api_client, str(token))
    assert response.status_code == 401
    assert response.json()["code"] == "auth.authentication_failed"
    assert response.json()["detail"] == "The token's session is unknown."


def test_a_token_naming_another_user_than_its_session_is_invalid(api_client, user):
    # We never sign one; were the key to sign one, it still reaches no one else's account.
    theirs = token_backend.decode(session_tokens_issue(user=UserFactory())["access"])
    token = AccessToken.for_user(user)
    token["sid"] = theirs["sid"]
    response = _private(api_client, str(token))
    assert response.status_code == 401
    assert response.json()["code"] == "auth.authentication_failed"


def test_a_request_is_authenticated_once(user, django_assert_num_queries):
    # The idempotency middleware authenticates before the view; DRF then reuses the outcome.
    token = session_tokens_issue(user=user)["access"]
    request = RequestFactory().post("/api/v1/test/private", HTTP_AUTHORIZATION=f"Bearer {token}")
    with django_assert_num_queries(1):
        first = BearerJWTAuthentication().authenticate(request)
        again = BearerJWTAuthentication().authenticate(request)
    assert again == first
    assert first[0] == user

    User.objects.filter(pk=user.pk).update(is_active=False)
    forget_bearer_authentication(request)
    with django_assert_num_queries(1), pytest.raises(AuthenticationFailed) as refused:
        BearerJWTAuthentication().authenticate(request)
    # a refusal is remembered too
    with django_assert_num_queries(0), pytest.raises(AuthenticationFailed) as again_refused:
        BearerJWTAuthentication().authenticate(request)
    assert again_refused.value is refused.value
    assert refused.value.detail["code"] == "user_inactive"


def test_a_remembered_outcome_is_only_for_its_own_token(user, django_assert_num_queries):
    mine = session_tokens_issue(user=user)["access"]
    request = RequestFactory().post("/api/v1/test/private", HTTP_AUTHORIZATION=f"Bearer {mine}")
    BearerJWTAuthentication().authenticate(request)
    other = UserFactory()
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {session_tokens_issue(user=other)['access']}"
    with django_assert_num_queries(1):
        assert BearerJWTAuthentication().authenticate(request)[0] == other


@pytest.mark.parametrize("others_ended", [False, True])
def test_authentication_is_exactly_one_query(
    api_client, user, django_assert_num_queries, others_ended
):
    if others_ended:
        session_tokens_issue(user=user)
        session_revoke_all(user=user)
    access = session_tokens_issue(user=user)["access"]
    with django_assert_num_queries(1):
        response = _private(api_client, access)
    assert response.status_code == 200
    assert Session.objects.filter(user=user).count() == (2 if others_ended else 1)


def test_refusing_a_revoked_token_is_exactly_one_query(api_client, user, django_assert_num_queries):
    tokens = session_tokens_issue(user=user)
    session_revoke_all(user=user)
    with django_assert_num_queries(1):
        response = _private(api_client, tokens["access"])
    assert response.json()["code"] == "auth.token_revoked"


def test_handler_gives_simplejwt_token_revoked_its_own_code_and_title():
    response = problem_exception_handler(
        AuthenticationFailed("Signed out everywhere.", code="token_revoked"), {}
    )
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.data == {
        "type": "https://errors.marketplace.dev/auth.token_revoked",
        "title": "Token revoked",
        "status": 401,
        "detail": "Signed out everywhere.",
        "code": "auth.token_revoked",
    }


@pytest.mark.parametrize(
    "exc",
    [
        AuthenticationFailed("User is inactive", code="user_inactive"),
        AuthenticationFailed("User not found", code="user_not_found"),
        InvalidToken("Given token not valid for any token type"),
    ],
)
def test_handler_keeps_other_simplejwt_failures_generic(exc):
    response = problem_exception_handler(exc, {})
    assert response.status_code == 401
    assert response.data["code"] == "auth.authentication_failed"
    assert response.data["title"] == "Authentication failed"
    assert response.data["detail"] == str(exc.detail["detail"])


def test_handler_keeps_an_auth_code_given_to_drf_authentication_failed():
    response = problem_exception_handler(
        drf.AuthenticationFailed("Nope.", code="auth.custom_reason"), {}
    )
    assert response.status_code == 401
    assert response.data["code"] == "auth.custom_reason"
    assert response.data["title"] == "Authentication failed"
    assert response.data["detail"] == "Nope."
