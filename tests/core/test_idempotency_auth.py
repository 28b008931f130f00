"""Idempotency-Key and Bearer tokens: a stored response is replayed (or waited for) only to a
caller whose token passes authentication now. A revoked token, an inactive or deleted user's
token gets DRF's 401 from the view, and nothing is written; the stored record is left as it was.
"""

import contextlib
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from freezegun import freeze_time
from rest_framework.test import APIClient, APIRequestFactory

from apps.core.idempotency import body_digest, idempotency_claim
from apps.core.models import IdempotencyRecord
from apps.users.models import ApiKey, User
from apps.users.services.sessions import session_revoke_all, session_tokens_issue
from tests.conftest import auth_client
from tests.services import need_postgres
from tests.users.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

T0 = dt.datetime(2031, 3, 4, 12, 0, 0, 100000, tzinfo=dt.UTC)
KEY = "idem-key-1"
GROUPS = "/api/v1/test/groups"
API_KEY_BODY = {"name": "storefront", "scopes": ["catalog:read"], "rate": "500/min"}

REVOKED = {
    "type": "https://errors.marketplace.dev/auth.token_revoked",
    "title": "Token revoked",
    "status": 401,
    "detail": "This token was revoked: the account signed out everywhere or its password "
    "changed. Sign in again.",
    "code": "auth.token_revoked",
}


def failed(detail: str) -> dict:
    return {
        "type": "https://errors.marketplace.dev/auth.authentication_failed",
        "title": "Authentication failed",
        "status": 401,
        "detail": detail,
        "code": "auth.authentication_failed",
    }


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login(email: str) -> str:
    response = APIClient().post(
        "/api/v1/auth/login", {"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.content
    return response.json()["access"]


def post(client: APIClient, url: str, body: dict, key: str = KEY):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def earlier_token(user: User) -> str:
    """The access token of a session of the user started before the test's revocation."""
    return session_tokens_issue(user=user)["access"]


def revoke_now(user: User) -> None:
    session_revoke_all(user=user)


def assert_refused(response, body: dict) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == body
    assert "Idempotent-Replayed" not in response


# --- POST /api-keys: the stored response is the new key's, its secret blanked


def test_a_new_api_key_is_replayed_to_another_valid_session_of_the_same_staff_user(staff):
    first = post(bearer(login(staff.email)), "/api/v1/api-keys", API_KEY_BODY)
    assert first.status_code == 201

    again = post(bearer(login(staff.email)), "/api/v1/api-keys", API_KEY_BODY)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "key": None}
    assert ApiKey.objects.count() == 1


def test_a_new_api_key_is_not_replayed_to_a_revoked_token(staff):
    with freeze_time(T0) as clock:
        access = login(staff.email)
        first = post(bearer(access), "/api/v1/api-keys", API_KEY_BODY)
        assert first.status_code == 201
        raw_key = first.json()["key"]
        clock.move_to(T0 + dt.timedelta(seconds=5))
        session_revoke_all(user=staff)

        response = post(bearer(access), "/api/v1/api-keys", API_KEY_BODY)

        assert_refused(response, REVOKED)
        assert raw_key not in response.content.decode()
        assert ApiKey.objects.count() == 1
        # The record is untouched: a session opened since still gets it.
        clock.move_to(T0 + dt.timedelta(seconds=6))
        replay = post(bearer(login(staff.email)), "/api/v1/api-keys", API_KEY_BODY)
        assert replay["Idempotent-Replayed"] == "true"
        assert replay.json() == {**first.json(), "key": None}


def test_a_new_api_key_is_not_replayed_to_a_deactivated_user(staff):
    access = login(staff.email)
    first = post(bearer(access), "/api/v1/api-keys", API_KEY_BODY)
    assert first.status_code == 201
    User.objects.filter(pk=staff.pk).update(is_active=False)

    response = post(bearer(access), "/api/v1/api-keys", API_KEY_BODY)

    assert_refused(response, failed("User is inactive"))
    assert first.json()["key"] not in response.content.decode()
    assert ApiKey.objects.count() == 1


# --- any view


@pytest.mark.parametrize("refusal", ["revoked", "inactive"])
def test_a_refused_token_gets_401_and_the_record_stays_for_the_user(user, refusal):
    token = earlier_token(user)
    first = post(bearer(token), GROUPS, {"name": "alpha"})
    assert first.status_code == 201
    if refusal == "revoked":
        revoke_now(user)
        expected = REVOKED
    else:
        User.objects.filter(pk=user.pk).update(is_active=False)
        expected = failed("User is inactive")

    for _ in range(2):  # a 401 is not stored: the answer stays the same
        assert_refused(post(bearer(token), GROUPS, {"name": "alpha"}), expected)
    assert list(Group.objects.values_list("name", flat=True)) == ["alpha"]

    User.objects.filter(pk=user.pk).update(is_active=True)
    replay = post(auth_client(user), GROUPS, {"name": "alpha"})  # a token minted now
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content


def test_a_deleted_users_token_gets_401(user):
    token = earlier_token(user)
    assert post(bearer(token), GROUPS, {"name": "alpha"}).status_code == 201
    User.objects.filter(pk=user.pk).delete()

    # its sessions went with it
    assert_refused(
        post(bearer(token), GROUPS, {"name": "alpha"}), failed("The token's session is unknown.")
    )
    assert Group.objects.count() == 1


def test_a_malformed_authorization_header_gets_401_not_500(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    response = post(api_client, GROUPS, {"name": "alpha"})
    assert_refused(response, failed("Authorization header must contain two space-delimited values"))
    assert not Group.objects.exists()


# --- waiting for a request in progress


@contextlib.contextmanager
def request_in_progress(user: User, body: dict, seconds: float = 1.0) -> Iterator[threading.Event]:
    """A first request of `user` with KEY and `body` holding its claim (in its open transaction)
    for `seconds`, after which it stores a 201 as the view would have and commits (the event
    yielded is set then)."""
    request = APIRequestFactory().post(GROUPS, body, format="json")
    scope = hashlib.sha256(f"user:{user.pk}\n{KEY}".encode()).hexdigest()
    claimed, committed = threading.Event(), threading.Event()

    def first_request() -> None:
        try:
            with transaction.atomic():
                record, _ = idempotency_claim(scope, body_digest(request))
                claimed.set()
                time.sleep(seconds)
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    status=201,
                    body=b'{"first": true}',
                    headers={"Content-Type": "application/json"},
                )
            committed.set()
        finally:
            connection.close()

    holder = threading.Thread(target=first_request)
    holder.start()
    assert claimed.wait(5)
    try:
        yield committed
    finally:
        holder.join(10)


@pytest.mark.django_db(transaction=True)
def test_a_valid_token_waits_for_the_request_in_progress_and_replays_it(user):
    need_postgres()
    with request_in_progress(user, {"name": "alpha"}):
        response = post(auth_client(user), GROUPS, {"name": "alpha"})

    assert response.status_code == 201
    assert response.json() == {"first": True}  # what the first request committed
    assert response["Idempotent-Replayed"] == "true"
    assert not Group.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_does_not_wait_for_the_request_in_progress(user):
    need_postgres()
    token = earlier_token(user)
    revoke_now(user)
    with request_in_progress(user, {"name": "alpha"}, seconds=3) as committed:
        response = post(bearer(token), GROUPS, {"name": "alpha"})
        assert not committed.is_set()  # refused without waiting for the claim

    assert_refused(response, REVOKED)
    assert not Group.objects.exists()


# --- cost: the user row is read once per request


def test_an_idempotent_request_and_its_replay_read_the_user_once(user, django_assert_num_queries):
    client = auth_client(user)
    # the user; the claim's INSERT and SELECT; the stored response's UPDATE; and the SAVEPOINT
    # and RELEASE of the request's transaction (a savepoint in the test's own transaction)
    with django_assert_num_queries(6):
        first = post(client, "/api/v1/test/private", {})
    assert first.status_code == 201
    # the user; the claim's INSERT (ignored) and SELECT; SAVEPOINT and RELEASE
    with django_assert_num_queries(5):
        replay = post(client, "/api/v1/test/private", {})
    assert replay["Idempotent-Replayed"] == "true"


def test_a_refused_idempotent_request_reads_the_user_once(user, django_assert_num_queries):
    token = earlier_token(user)
    revoke_now(user)
    with django_assert_num_queries(1):
        response = post(bearer(token), "/api/v1/test/private", {})
    assert_refused(response, REVOKED)


def test_a_request_without_a_key_reads_nothing_more(user, django_assert_num_queries):
    client = auth_client(user)
    with django_assert_num_queries(1):
        response = client.post("/api/v1/test/private", {}, format="json")
    assert response.status_code == 201
