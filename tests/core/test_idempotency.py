"""Idempotency-Key on POST /api/v1/: replay, key reuse, concurrency, what is (not) stored."""

import hashlib
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from apps.core.idempotency import body_digest, idempotency_claim, idempotency_records_prune
from apps.core.models import IdempotencyRecord
from tests.conftest import auth_client
from tests.services import need_postgres
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

URL = "/api/v1/test/groups"


def post(client, body, key, url=URL, **extra):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_replay_returns_the_stored_status_body_and_headers_without_acting_again(api_client):
    first = post(api_client, {"name": "alpha"}, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first

    second = post(api_client, {"name": "alpha"}, "key-1")

    assert second.status_code == 201
    assert second.content == first.content  # the random nonce proves it is the stored body
    assert second["Content-Type"] == "application/json"
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert second["X-Request-Id"] != first["X-Request-Id"]
    assert Group.objects.filter(name="alpha").count() == 1


def test_same_key_with_a_different_body_is_422_key_reused(api_client):
    assert post(api_client, {"name": "alpha"}, "key-1").status_code == 201

    response = post(api_client, {"name": "beta"}, "key-1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency.key_reused"
    assert not Group.objects.filter(name="beta").exists()


def test_the_same_json_spelled_differently_is_the_same_request(api_client):
    def raw(text: str, key: str = "key-1"):
        return api_client.post(URL, text, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)

    first = raw('{"name": "alpha", "extra": {"b": 1, "a": [1, 2]}}')
    assert first.status_code == 201

    # keys in another order, other spacing: the stored response, nothing done again
    again = raw('{"extra":{"a":[1,2],"b":1},\n  "name":"alpha"}')
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    # a different value, or list order, is a different body
    assert raw('{"name": "alpha", "extra": {"b": 1, "a": [2, 1]}}').status_code == 422
    assert raw('{"name": "alpha", "extra": {"b": 2, "a": [1, 2]}}').status_code == 422
    assert Group.objects.filter(name="alpha").count() == 1


def test_same_key_on_another_path_is_key_reused(api_client):
    assert post(api_client, {"name": "alpha"}, "key-1").status_code == 201
    response = post(api_client, {"name": "alpha"}, "key-1", url=URL + "?delay=0")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency.key_reused"


def test_without_a_key_every_post_acts(api_client):
    assert api_client.post(URL, {"name": "alpha"}, format="json").status_code == 201
    response = api_client.post(URL, {"name": "alpha"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "test.group_exists"


def test_keys_are_scoped_per_user():
    alice, bob = UserFactory(), UserFactory()
    assert post(auth_client(alice), {"name": "alpha"}, "shared").status_code == 201

    response = post(auth_client(bob), {"name": "alpha"}, "shared")

    assert response.status_code == 409  # bob's request ran: the name is taken
    assert "Idempotent-Replayed" not in response
    replay = post(auth_client(alice), {"name": "alpha"}, "shared")  # a new token, same user
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"


def test_guests_are_scoped_by_cart_token_never_by_address():
    guest = APIClient(HTTP_X_CART_TOKEN="cart-a")
    assert post(guest, {"name": "alpha"}, "k").status_code == 201
    other_cart = post(APIClient(HTTP_X_CART_TOKEN="cart-b"), {"name": "alpha"}, "k")
    assert other_cart.status_code == 409  # it ran: the name is taken
    assert "Idempotent-Replayed" not in other_cart

    # two guests behind one address, the same key, each with a cart: their own results
    first = post(APIClient(REMOTE_ADDR="10.0.0.7", HTTP_X_CART_TOKEN="c1"), {"name": "g1"}, "k2")
    second = post(APIClient(REMOTE_ADDR="10.0.0.7", HTTP_X_CART_TOKEN="c2"), {"name": "g2"}, "k2")
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert set(Group.objects.values_list("name", flat=True)) == {"alpha", "g1", "g2"}


def test_a_guest_without_a_cart_is_known_by_the_key_and_the_request():
    first = post(APIClient(REMOTE_ADDR="10.0.0.7"), {"name": "gamma"}, "k")
    assert first.status_code == 201

    elsewhere = post(APIClient(REMOTE_ADDR="10.9.9.9"), {"name": "gamma"}, "k")
    assert elsewhere["Idempotent-Replayed"] == "true"
    assert elsewhere.content == first.content
    other_body = post(APIClient(REMOTE_ADDR="10.0.0.7"), {"name": "delta"}, "k")
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency.key_reused"
    assert list(Group.objects.values_list("name", flat=True)) == ["gamma"]


def test_4xx_responses_are_stored_and_replayed(api_client):
    Group.objects.create(name="taken")
    first = post(api_client, {"name": "taken"}, "k")
    assert first.status_code == 409
    Group.objects.filter(name="taken").delete()

    replay = post(api_client, {"name": "taken"}, "k")

    assert replay.status_code == 409
    assert replay["Content-Type"] == "application/problem+json"
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert not Group.objects.filter(name="taken").exists()


def test_5xx_is_not_stored_so_the_client_can_retry(api_client):
    first = post(api_client, {"name": "flaky"}, "k", url="/api/v1/test/flaky")
    assert first.status_code == 500

    retry = post(api_client, {"name": "flaky"}, "k", url="/api/v1/test/flaky")

    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert (
        post(api_client, {"name": "flaky"}, "k", url="/api/v1/test/flaky")["Idempotent-Replayed"]
        == "true"
    )
    assert Group.objects.filter(name="flaky").count() == 1


def test_401_is_not_stored(user):
    anonymous = post(APIClient(REMOTE_ADDR="10.1.1.1"), {}, "k", url="/api/v1/test/private")
    assert anonymous.status_code == 401
    again = post(APIClient(REMOTE_ADDR="10.1.1.1"), {}, "k", url="/api/v1/test/private")
    assert again.status_code == 401
    assert "Idempotent-Replayed" not in again


def test_invalid_token_gets_drf_401_and_no_idempotency(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.value")
    for _ in range(2):
        response = post(api_client, {"name": "alpha"}, "k")
        assert response.status_code == 401
        assert response.json()["code"] == "auth.authentication_failed"
        assert "Idempotent-Replayed" not in response
    assert not Group.objects.exists()


@pytest.mark.parametrize("key", ["x" * 256, "   ", "bad\x01key"])
def test_invalid_keys_are_400_and_nothing_happens(api_client, key):
    response = post(api_client, {"name": "alpha"}, key)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency.key_invalid"
    assert not Group.objects.exists()


def test_a_255_character_key_is_accepted(api_client):
    assert post(api_client, {"name": "alpha"}, "k" * 255).status_code == 201
    assert post(api_client, {"name": "alpha"}, "k" * 255)["Idempotent-Replayed"] == "true"


def test_uploads_larger_than_the_memory_limit_are_hashed_and_still_reach_the_view(
    api_client, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = b"JPEGDATA" + b"x" * 5000

    def upload(content):
        return api_client.post(
            "/api/v1/test/upload",
            {"file": SimpleUploadedFile("a.bin", content)},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = upload(payload)
    assert first.status_code == 201
    assert first.json() == {"size": 5008, "first": "JPEGDATA"}
    assert upload(payload)["Idempotent-Replayed"] == "true"
    assert upload(payload + b"y").json()["code"] == "idempotency.key_reused"


def test_get_requests_ignore_the_header(api_client):
    response = api_client.get("/api/v1/health/live", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 200


def _race(n, make_client, bodies, url):
    """Start n POSTs at once with the same key; return their responses."""
    barrier = threading.Barrier(n)
    responses = [None] * n
    errors = []

    def worker(i):
        try:
            client = make_client()
            barrier.wait()
            responses[i] = post(client, bodies[i], "race-key", url=url)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    return responses


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_first_requests_act_once_and_answer_identically():
    need_postgres()
    user = UserFactory()

    responses = _race(10, lambda: auth_client(user), [{"name": "race"}] * 10, URL + "?delay=0.3")

    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.content for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 9
    assert Group.objects.filter(name="race").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_different_bodies_only_one_acts():
    need_postgres()

    responses = _race(
        5,
        lambda: APIClient(HTTP_X_CART_TOKEN="cart-race"),
        [{"name": f"race-{i}"} for i in range(5)],
        URL + "?delay=0.3",
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 422, 422, 422, 422]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {
        "idempotency.key_reused"
    }
    assert Group.objects.filter(name__startswith="race-").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_dies_with_its_transaction_and_the_retry_runs_at_once():
    """A process killed mid-request: its transaction, claim included, rolls back; the retry that
    was waiting on the claim runs itself (no 409 until some lock expires)."""
    need_postgres()
    user = UserFactory()
    request = APIRequestFactory().post(URL, {"name": "crash"}, format="json")
    scope = hashlib.sha256(f"user:{user.pk}\nkey-1".encode()).hexdigest()
    claimed, done = threading.Event(), threading.Event()

    def dying_request():
        try:
            with transaction.atomic():
                idempotency_claim(scope, body_digest(request))
                claimed.set()
                time.sleep(0.5)
                raise RuntimeError("killed")
        except RuntimeError:
            done.set()
        finally:
            connection.close()

    holder = threading.Thread(target=dying_request)
    holder.start()
    assert claimed.wait(5)

    retry = post(auth_client(user), {"name": "crash"}, "key-1")
    holder.join(5)

    assert done.is_set()  # the retry waited for the claim's transaction, not for a timeout
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert Group.objects.filter(name="crash").count() == 1
    assert IdempotencyRecord.objects.get(scope=scope).status == 201


def test_a_400_is_not_stored_so_the_corrected_body_runs(api_client):
    refused = post(api_client, {"name": ""}, "k")
    assert refused.status_code == 400

    corrected = post(api_client, {"name": "fixed"}, "k")

    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected
    assert list(Group.objects.values_list("name", flat=True)) == ["fixed"]


def test_records_past_their_ttl_are_pruned_and_no_longer_replayed(api_client, settings):
    assert post(api_client, {"name": "alpha"}, "old").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_records_prune() == 1
    assert not IdempotencyRecord.objects.exists()


def test_an_expired_record_is_claimed_anew(api_client):
    assert post(api_client, {"name": "alpha"}, "old").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = post(api_client, {"name": "beta"}, "old")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert IdempotencyRecord.objects.count() == 1


# --- secrets shown once are not kept (redact_when_stored)

SECRET_URL = "/api/v1/test/secret"


def test_a_redacted_field_is_null_in_the_record_and_the_replay(api_client):
    first = post(api_client, {}, "k", url=SECRET_URL)
    assert first.status_code == 201
    secret = first.json()["secret"]

    replay = post(api_client, {}, "k", url=SECRET_URL)

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == "application/json"
    # the same body, the named top-level field null (a field it does not have is not added)
    assert replay.json() == {**first.json(), "secret": None}
    assert list(replay.json()) == ["id", "secret", "note"]
    (record,) = IdempotencyRecord.objects.all()
    assert first.json()["id"].encode() in bytes(record.body)
    assert secret.encode() not in bytes(record.body)


def test_a_body_that_cannot_be_redacted_is_not_stored(api_client):
    first = post(api_client, {}, "k", url=SECRET_URL + "?text=1")
    assert first.status_code == 201

    again = post(api_client, {}, "k", url=SECRET_URL + "?text=1")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.content != first.content  # the view ran again: a new secret
