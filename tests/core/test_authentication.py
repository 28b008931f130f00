"""Bearer JWT authentication: one SELECT per request, and tokens issued before the user's last
revocation refused as 401 `auth.token_revoked` unless they belong to the session that revocation
kept (`tokens_kept_session`, the tokens' `sid` claim). A token carries the user's
`tokens_generation` at its issue (`gen`); one from before generations is judged by its `iat`
against `tokens_valid_after`, in whole seconds."""

import datetime as dt
import uuid

import pytest
from django.test import RequestFactory
from rest_framework import exceptions as drf
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.tokens import AccessToken

from apps.core.authentication import (
    BearerJWTAuthentication,
    forget_bearer_authentication,
    token_revoked,
    token_session,
)
from apps.core.exceptions import problem_exception_handler
from apps.users.models import User
from tests.conftest import auth_client
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

PROBLEM = "application/problem+json"
# 12:00:00.999 UTC: the cut-off in whole seconds is 12:00:00.
VALID_AFTER = dt.datetime(2031, 3, 4, 12, 0, 0, 999000, tzinfo=dt.UTC)
CUTOFF = int(VALID_AFTER.timestamp())
KEPT = uuid.UUID("6f1c1a3e-5b0e-4c53-9d1e-0a4b8f2d7c10")
OTHER = "0d2f6a2c-8f3e-4f57-a1b0-5c3e9d7b4a21"


@pytest.mark.parametrize(
    ("issued_at", "tokens_valid_after", "revoked"),
    [
        (CUTOFF - 3600, None, False),  # nothing ever revoked
        (CUTOFF - 1, VALID_AFTER, True),  # the second before
        (CUTOFF, VALID_AFTER, False),  # the same second: iat cannot tell before from after
        (CUTOFF + 1, VALID_AFTER, False),
        (None, VALID_AFTER, True),  # no iat at all
        (str(CUTOFF), VALID_AFTER, True),  # not an integer
        (True, VALID_AFTER, True),
        (None, None, False),
    ],
)
@pytest.mark.parametrize(
    ("session_id", "tokens_kept_session"),
    [(None, None), (OTHER, None), (None, KEPT), (OTHER, KEPT)],
    ids=["no-sid", "nothing-kept", "no-sid-kept-other", "other-session"],
)
def test_token_revoked_rule_for_a_token_without_generation(
    issued_at, tokens_valid_after, revoked, session_id, tokens_kept_session
):
    # A token from before generations, not of the kept session, follows the cut-off alone.
    assert (
        token_revoked(
            issued_at=issued_at,
            session_id=session_id,
            generation=None,
            tokens_valid_after=tokens_valid_after,
            tokens_kept_session=tokens_kept_session,
            tokens_generation=0 if tokens_valid_after is None else 1,
        )
        is revoked
    )


@pytest.mark.parametrize(
    ("generation", "tokens_generation", "issued_at", "revoked"),
    [
        (0, 0, CUTOFF - 3600, False),  # nothing revoked since
        (0, 1, CUTOFF + 1, True),  # an older generation, whatever iat says
        (1, 1, CUTOFF - 3600, False),  # the current generation, whatever iat says
        (1, 3, CUTOFF + 1, True),
        (4, 3, CUTOFF - 1, False),  # never signed, but not an older one
        ("1", 1, CUTOFF + 1, False),  # not an integer: judged by iat (after the cut-off)
        (True, 1, CUTOFF - 1, True),  # a bool is no generation: judged by iat (before)
    ],
)
@pytest.mark.parametrize(
    ("session_id", "tokens_kept_session"),
    [(None, None), (OTHER, None), (OTHER, KEPT)],
    ids=["no-sid", "nothing-kept", "other-session"],
)
def test_token_revoked_rule_by_generation(
    generation, tokens_generation, issued_at, revoked, session_id, tokens_kept_session
):
    assert (
        token_revoked(
            issued_at=issued_at,
            session_id=session_id,
            generation=generation,
            tokens_valid_after=VALID_AFTER,
            tokens_kept_session=tokens_kept_session,
            tokens_generation=tokens_generation,
        )
        is revoked
    )


@pytest.mark.parametrize("generation", [None, 0, 2])
@pytest.mark.parametrize("issued_at", [CUTOFF - 3600, CUTOFF - 1, CUTOFF, CUTOFF + 1, None])
def test_the_kept_session_is_never_revoked(issued_at, generation):
    assert (
        token_revoked(
            issued_at=issued_at,
            session_id=str(KEPT),
            generation=generation,
            tokens_valid_after=VALID_AFTER,
            tokens_kept_session=KEPT,
            tokens_generation=2,
        )
        is False
    )


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


def _token_issued(user: User, *, seconds_before_cutoff: int, valid_after: dt.datetime) -> str:
    """An access token whose `iat` is that many seconds before `valid_after`'s second (the
    expiry is left as minted, in the future)."""
    token = AccessToken.for_user(user)
    token["iat"] = int(valid_after.timestamp()) - seconds_before_cutoff
    return str(token)


def _revoke_now(user: User) -> dt.datetime:
    now = dt.datetime.now(tz=dt.UTC)
    User.objects.filter(pk=user.pk).update(tokens_valid_after=now)
    return now


def _revoke_keeping(user: User, session: uuid.UUID) -> dt.datetime:
    now = dt.datetime.now(tz=dt.UTC)
    User.objects.filter(pk=user.pk).update(tokens_valid_after=now, tokens_kept_session=session)
    return now


def test_token_of_the_kept_session_issued_before_passes(api_client, user):
    valid_after = _revoke_keeping(user, KEPT)
    token = AccessToken.for_user(user)
    token["iat"] = int(valid_after.timestamp()) - 60
    token["sid"] = str(KEPT)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/test/private")
    assert response.status_code == 200
    assert response.json() == {"user": str(user.pk)}


@pytest.mark.parametrize("session", [OTHER, None])
def test_token_of_another_session_issued_before_is_refused(api_client, user, session):
    valid_after = _revoke_keeping(user, KEPT)
    token = AccessToken.for_user(user)
    token["iat"] = int(valid_after.timestamp()) - 60
    if session is not None:
        token["sid"] = session
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/test/private")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_revoked"


def test_a_request_is_authenticated_once(user, django_assert_num_queries):
    # The idempotency middleware authenticates before the view; DRF then reuses the outcome.
    token = str(AccessToken.for_user(user))
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
    request = RequestFactory().post(
        "/api/v1/test/private", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}"
    )
    BearerJWTAuthentication().authenticate(request)
    other = UserFactory()
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {AccessToken.for_user(other)}"
    with django_assert_num_queries(1):
        assert BearerJWTAuthentication().authenticate(request)[0] == other


def test_token_issued_before_tokens_valid_after_is_401_token_revoked(api_client, user):
    valid_after = _revoke_now(user)
    token = _token_issued(user, seconds_before_cutoff=1, valid_after=valid_after)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/test/private")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "type": "https://errors.marketplace.dev/auth.token_revoked",
        "title": "Token revoked",
        "status": 401,
        "detail": "This token was revoked: the account signed out everywhere or its password "
        "changed. Sign in again.",
        "code": "auth.token_revoked",
    }


def test_token_of_the_revocation_second_passes(api_client, user):
    valid_after = _revoke_now(user)
    token = _token_issued(user, seconds_before_cutoff=0, valid_after=valid_after)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/test/private")
    assert response.status_code == 200
    assert response.json() == {"user": str(user.pk)}


@pytest.mark.parametrize(("generation", "status"), [(0, 401), (1, 200), (None, 200)])
def test_a_token_of_an_older_generation_is_refused(api_client, user, generation, status):
    # Revoked once, a second ago: iat (now) says after the cut-off; only `gen` can tell.
    User.objects.filter(pk=user.pk).update(
        tokens_valid_after=dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=1),
        tokens_generation=1,
    )
    token = AccessToken.for_user(user)
    if generation is not None:
        token["gen"] = generation
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/test/private")
    assert response.status_code == status
    if status == 401:
        assert response.json()["code"] == "auth.token_revoked"


@pytest.mark.parametrize("revoked", [False, True])
def test_authentication_is_exactly_one_query(user, django_assert_num_queries, revoked):
    if revoked:
        # The row carries a cut-off that the token (minted after it) passes.
        User.objects.filter(pk=user.pk).update(
            tokens_valid_after=dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1)
        )
    client = auth_client(user)
    with django_assert_num_queries(1):
        response = client.get("/api/v1/test/private")
    assert response.status_code == 200


def test_refusing_a_revoked_token_is_exactly_one_query(api_client, user, django_assert_num_queries):
    valid_after = _revoke_now(user)
    token = _token_issued(user, seconds_before_cutoff=60, valid_after=valid_after)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with django_assert_num_queries(1):
        response = api_client.get("/api/v1/test/private")
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
