"""Idempotency-Key on POST /api/v1/: replay, key reuse, concurrency, what is (not) stored."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from tests.conftest import auth_client
from tests.services import need_postgres, need_redis
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


def test_guests_are_scoped_by_cart_token_then_by_ip():
    guest = APIClient(HTTP_X_CART_TOKEN="cart-a")
    assert post(guest, {"name": "alpha"}, "k").status_code == 201
    other_cart = post(APIClient(HTTP_X_CART_TOKEN="cart-b"), {"name": "alpha"}, "k")
    assert other_cart.status_code == 409
    by_ip = post(APIClient(REMOTE_ADDR="10.0.0.7"), {"name": "gamma"}, "k")
    assert by_ip.status_code == 201
    spoofed = post(
        APIClient(REMOTE_ADDR="10.0.0.8", HTTP_X_FORWARDED_FOR="10.0.0.7"), {"name": "gamma"}, "k"
    )
    assert spoofed.status_code == 409  # X-Forwarded-For is not trusted (NUM_PROXIES=0)
    assert (
        post(APIClient(REMOTE_ADDR="10.0.0.7"), {"name": "gamma"}, "k")["Idempotent-Replayed"]
        == "true"
    )


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
    need_redis()
    user = UserFactory()

    responses = _race(10, lambda: auth_client(user), [{"name": "race"}] * 10, URL + "?delay=0.3")

    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.content for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 9
    assert Group.objects.filter(name="race").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_different_bodies_only_one_acts():
    need_postgres()
    need_redis()

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


def test_a_waiter_gives_up_with_409_in_progress_after_the_wait_bound(settings):
    need_redis()
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2

    responses = _race(
        2, lambda: APIClient(HTTP_X_CART_TOKEN="slow"), [{}] * 2, "/api/v1/test/slow?delay=1"
    )

    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == [201, 409]
    assert by_status[409].json()["code"] == "idempotency.in_progress"
    assert by_status[409]["Retry-After"] == "1"
    replay = post(
        APIClient(HTTP_X_CART_TOKEN="slow"), {}, "race-key", url="/api/v1/test/slow?delay=1"
    )
    assert replay.content == by_status[201].content


# --- secrets shown once are not kept (redact_when_stored)

SECRET_URL = "/api/v1/test/secret"


def stored_values() -> list[bytes]:
    """Every value this test run holds in Redis, as stored (the records are pickled)."""
    redis = get_redis_connection("default")
    prefix = cache.make_key("")  # this run's key prefix and version
    return [redis.get(key) or b"" for key in redis.scan_iter(match=f"{prefix}*")]


def test_a_redacted_field_is_null_in_the_record_and_the_replay(api_client):
    need_redis()
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
    values = stored_values()
    assert [v for v in values if first.json()["id"].encode() in v]  # the record is there
    assert not [v for v in values if secret.encode() in v]


def test_a_body_that_cannot_be_redacted_is_not_stored(api_client):
    first = post(api_client, {}, "k", url=SECRET_URL + "?text=1")
    assert first.status_code == 201

    again = post(api_client, {}, "k", url=SECRET_URL + "?text=1")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.content != first.content  # the view ran again: a new secret
