"""The production stack (`make stack`) end to end, through nginx only, as a client would use it.

The tests share one stack (the module's fixture) and run in file order: the last one stops it
with Ctrl-C's SIGINT and checks that no process is left."""

import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from django.core import signing

from apps.users.services.accounts import EMAIL_VERIFICATION_SALT, email_verification_claims
from tests.services import port_open as listening
from tests.stack.conftest import HEARTBEAT_SECONDS, STREAMS_PER_USER, Stack

PASSWORD = "a-Strong-pass-2024"
ADDRESS = {
    "name": "Stack Buyer",
    "line1": "1 Market Street",
    "line2": "",
    "city": "Springfield",
    "state": "",
    "postal_code": "12345",
    "country": "US",
    "phone": "+1 555 010 0000",
}
SHARED_CACHE_SECONDS = 5  # CATALOG_SHARED_CACHE_SECONDS's default


def signup(stack: Stack) -> dict:
    """A new buyer, its e-mail verified: the stack runs the production settings, where
    REQUIRE_EMAIL_VERIFICATION is on. The link is the one the worker e-mails (the same signed
    token: the suite knows the stack's SECRET_KEY); before it, placing an order is refused."""
    response = requests.post(
        stack.url("/api/v1/auth/signup"),
        json={
            "email": f"buyer-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "name": "B",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    tokens = response.json()
    unverified = requests.post(
        stack.url("/api/v1/orders"), json={}, headers=bearer(tokens), timeout=10
    )
    assert unverified.status_code == 403, unverified.text
    assert unverified.json()["code"] == "auth.email_unverified"
    token = signing.dumps(
        email_verification_claims(user_id=tokens["user"]["id"], email=tokens["user"]["email"]),
        key=stack.env["SECRET_KEY"],
        salt=EMAIL_VERIFICATION_SALT,
    )
    verified = requests.post(
        stack.url("/api/v1/auth/verify-email"), json={"token": token}, timeout=10
    )
    assert verified.status_code == 204, verified.text
    return tokens


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access']}"}


def in_stock_variant(stack: Stack) -> str:
    listed = requests.get(stack.url("/api/v1/products?in_stock=true&page_size=50"), timeout=10)
    assert listed.status_code == 200, listed.text
    for product in listed.json()["results"]:
        detail = requests.get(stack.url(f"/api/v1/products/{product['id']}"), timeout=10).json()
        for variant in detail["variants"]:
            if variant.get("available", 0) >= 3:
                return variant["id"]
    raise AssertionError("the demo catalog has no variant with 3 in stock")


def open_stream(stack: Stack, tokens: dict) -> requests.Response:
    ticket = requests.post(
        stack.url("/api/v1/notifications/stream-ticket"), headers=bearer(tokens), timeout=10
    )
    assert ticket.status_code == 201, ticket.text
    return requests.get(stack.url(ticket.json()["url"]), stream=True, timeout=(5, 15))


def read_event(response: requests.Response, within: float) -> tuple[str, dict]:
    """The next `event:` of an SSE stream and its data, within `within` seconds."""
    deadline = time.monotonic() + within
    event = "message"
    for line in response.iter_lines(decode_unicode=True):
        assert time.monotonic() < deadline, f"no event within {within}s"
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            return event, json.loads(line[6:])
    raise AssertionError("the stream ended")


def wait_for(probe, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_health_and_static_files_through_nginx(stack):
    health = requests.get(stack.url("/api/v1/health"), timeout=10)
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "kafka": "skipped"},
    }
    css = requests.get(stack.url("/static/admin/css/base.css"), timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"] == "text/css"
    assert "body" in css.text
    # The request id is passed through both ways; an unusable one is replaced.
    echoed = requests.get(
        stack.url("/api/v1/health"), headers={"X-Request-Id": "trace-1"}, timeout=10
    )
    assert echoed.headers["X-Request-Id"] == "trace-1"
    replaced = requests.get(
        stack.url("/api/v1/health"), headers={"X-Request-Id": "a b"}, timeout=10
    )
    assert replaced.headers["X-Request-Id"] not in ("", "a b")
    # Bodies beyond the request size limit are refused by nginx itself.
    big = requests.post(stack.url("/api/v1/auth/login"), data=b"x" * (13 * 1024 * 1024), timeout=30)
    assert big.status_code == 413


def test_wsgi_and_asgi_each_serve_only_their_part(stack):
    direct = requests.get(
        f"http://127.0.0.1:{stack.web_port}/api/v1/notifications/stream?ticket=x", timeout=10
    )
    assert direct.status_code == 503
    assert direct.headers["Content-Type"] == "application/problem+json"
    assert direct.json()["code"] == "notification.stream_unavailable"
    assert "uvicorn" in direct.json()["detail"]
    other = requests.get(f"http://127.0.0.1:{stack.stream_port}/api/v1/products", timeout=10)
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"


def test_purchase_through_nginx_is_streamed_counted_and_relayed(stack):
    tokens = signup(stack)
    variant_id = in_stock_variant(stack)
    added = requests.post(
        stack.url("/api/v1/cart/items"),
        json={"variant_id": variant_id, "quantity": 1},
        headers=bearer(tokens),
        timeout=10,
    )
    assert added.status_code == 201, added.text
    before = stack.metrics().get("marketplace_orders_placed_total", 0.0)

    with open_stream(stack, tokens) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 3000"
        assert next(lines) == ": connected"
        key = uuid.uuid4().hex
        placed_at = time.monotonic()
        order = requests.post(
            stack.url("/api/v1/orders"),
            json={"shipping_address": ADDRESS},
            headers={**bearer(tokens), "Idempotency-Key": key},
            timeout=20,
        )
        assert order.status_code == 201, order.text
        (placed,) = order.json()["orders"]
        while True:
            event, data = read_event(stream, within=5 - (time.monotonic() - placed_at))
            if data["type"] == "order.placed":
                break
        assert event == "notification"
        assert data["data"]["order_id"] == placed["id"]
        assert time.monotonic() - placed_at < 5

    again = requests.post(
        stack.url("/api/v1/orders"),
        json={"shipping_address": ADDRESS},
        headers={**bearer(tokens), "Idempotency-Key": key},
        timeout=20,
    )
    assert again.status_code == 201
    assert [o["id"] for o in again.json()["orders"]] == [placed["id"]]

    metrics = wait_for(
        lambda: (m := stack.metrics())["marketplace_outbox_pending_events"] == 0 and m, timeout=15
    )
    assert metrics, "the outbox did not drain"
    assert metrics["marketplace_orders_placed_total"] == before + 1
    assert metrics["marketplace_outbox_oldest_pending_age_seconds"] == 0
    assert metrics['marketplace_celery_queue_messages{queue="events.dlq"}'] == 0
    route = 'marketplace_http_requests_total{method="POST",route="api/v1/orders",status="201"}'
    assert metrics[route] == 2


def until_hit(url: str, headers: dict | None = None) -> requests.Response:
    """GET until nginx answers from its cache: a key is stored on its second request, and on a
    slow machine an entry may expire (5 s) between two of them."""
    statuses = []
    for _ in range(8):
        response = requests.get(url, headers=headers, timeout=10)
        statuses.append(response.headers["X-Cache-Status"])
        if statuses[-1] == "HIT":
            return response
    raise AssertionError(f"never a cache hit: {statuses}")


def test_catalog_reads_are_cached_by_nginx_for_the_stated_max_age(stack):
    url = stack.url("/api/v1/products?page=1&page_size=5")
    first = requests.get(url, timeout=10)
    assert first.headers["Cache-Control"] == f"public, max-age=0, s-maxage={SHARED_CACHE_SECONDS}"
    hit = until_hit(url, {"X-Request-Id": "mine-1"})
    assert hit.headers["X-Request-Id"] == "mine-1"  # not the id of the request that filled it
    assert hit.json() == first.json()
    etag = hit.headers["ETag"]
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304

    # Junk, repeated or reordered parameters and credentials never make or read an entry.
    for variant, headers in [
        (url + "&utm=1", {}),
        (stack.url("/api/v1/products?page_size=5&page=1"), {}),
        (url + "&page=1", {}),
        (url, {"Authorization": "Bearer nope"}),
    ]:
        response = requests.get(variant, headers=headers, timeout=10)
        assert response.headers["X-Cache-Status"] == "BYPASS", variant

    # A seller's write shows through the cache within the max-age.
    seller = requests.post(
        stack.url("/api/v1/auth/login"),
        json={"email": "seller1@example.com", "password": "demo-pass-2024"},
        timeout=10,
    ).json()
    mine = requests.get(stack.url("/api/v1/seller/products"), headers=bearer(seller), timeout=10)
    product = next(p for p in mine.json()["results"] if p["status"] == "published")
    detail_url = stack.url(f"/api/v1/products/{product['id']}")
    until_hit(detail_url)
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    patched = requests.patch(
        stack.url(f"/api/v1/products/{product['id']}"),
        json={"name": name},
        headers=bearer(seller),
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    written = time.monotonic()
    shown = wait_for(
        lambda: requests.get(detail_url, timeout=10).json()["name"] == name,
        timeout=SHARED_CACHE_SECONDS + 2,
    )
    assert shown
    assert time.monotonic() - written <= SHARED_CACHE_SECONDS + 2


def _p50(url: str, headers: dict, count: int = 40) -> float:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = requests.get(url, headers=headers, timeout=5)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(timings)


def test_a_users_open_streams_are_bounded_and_hold_nothing_once_gone(stack):
    tokens = signup(stack)
    user_id = tokens["user"]["id"]
    # Through gunicorn (a Bearer token bypasses nginx's cache) and from nginx's cache.
    api_url, cached_url = stack.url("/api/v1/products"), stack.url("/api/v1/products?page=1")
    for _ in range(3):
        requests.get(cached_url, timeout=10)
    without = (_p50(api_url, bearer(tokens)), _p50(cached_url, {}))

    streams = []
    try:
        with ThreadPoolExecutor(8) as pool:
            streams = list(pool.map(lambda _: open_stream(stack, tokens), range(STREAMS_PER_USER)))
        assert [s.status_code for s in streams] == [200] * STREAMS_PER_USER
        refused = open_stream(stack, tokens)
        assert refused.status_code == 429
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "notification.too_many_streams"
        assert refused.json()["limit"] == STREAMS_PER_USER
        assert wait_for(
            lambda: stack.metrics()["marketplace_notification_streams_open"] == STREAMS_PER_USER,
            timeout=5,
        )
        with_streams = (_p50(api_url, bearer(tokens)), _p50(cached_url, {}))
    finally:
        for stream in streams:
            stream.close()
    print(  # noqa: T201  (the measurement docs/performance.md quotes; pytest -s)
        f"\nGET /products p50 via gunicorn {without[0] * 1000:.1f} ms without streams, "
        f"{with_streams[0] * 1000:.1f} ms with {STREAMS_PER_USER} open; from nginx's cache "
        f"{without[1] * 1000:.1f} ms and {with_streams[1] * 1000:.1f} ms"
    )
    # Liveness, not speed: an open stream holds no worker, so reads are not kept waiting.
    assert with_streams[0] < 1.0

    # Gone clients hold nothing: no stream open in uvicorn, no slot in Redis.
    slots = redis.Redis.from_url(stack.env["REDIS_URL"])
    key = f"{stack.env['CACHE_KEY_PREFIX']}:notifications:streams:{user_id}"
    assert wait_for(
        lambda: (
            stack.metrics()["marketplace_notification_streams_open"] == 0 and slots.zcard(key) == 0
        ),
        timeout=HEARTBEAT_SECONDS * 3,
    ), (stack.metrics()["marketplace_notification_streams_open"], slots.zcard(key))
    with open_stream(stack, tokens) as again:
        assert again.status_code == 200


def test_a_stream_ends_when_its_sessions_are_revoked(stack):
    tokens = signup(stack)
    with open_stream(stack, tokens) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 3000"
        ended = threading.Event()

        def read() -> None:
            event, _ = read_event(stream, within=HEARTBEAT_SECONDS * 3)
            assert event == "revoked"
            ended.set()

        reader = threading.Thread(target=read)
        reader.start()
        out = requests.post(
            stack.url("/api/v1/auth/logout-all"), headers=bearer(tokens), timeout=10
        )
        assert out.status_code in (200, 204), out.text
        reader.join(HEARTBEAT_SECONDS * 3 + 2)
        assert ended.is_set()


@pytest.mark.timeout(120)
def test_ctrl_c_stops_every_process(stack):
    assert stack.sessions, "no stack process was seen"
    stack.stop()  # make reports the interrupt (exit 130); what matters is what is left
    assert stack.process.poll() is not None
    assert [p for p in range(3) if listening("127.0.0.1", stack.port + p)] == []
    from tests.stack.conftest import processes_in

    assert processes_in(stack.sessions) == [], stack.log_tail()
