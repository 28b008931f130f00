"""GET /api/v1/health (readiness) and /api/v1/health/live (liveness)."""

import time

import pytest

from tests.services import need_rabbitmq, need_redis

pytestmark = pytest.mark.django_db

CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1


def test_live_is_200_and_touches_nothing(api_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api_client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


def test_health_with_eager_tasks_and_no_kafka_is_ok(api_client, settings):
    need_redis()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KAFKA_BOOTSTRAP_SERVERS = ""

    response = api_client.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "skipped", "kafka": "skipped"},
    }


def test_health_checks_the_real_broker(api_client, settings):
    need_redis()
    need_rabbitmq()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"

    response = api_client.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_unreachable_broker_and_kafka_give_503_within_the_timeout(api_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{CLOSED_PORT}//"
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{CLOSED_PORT}"
    settings.HEALTH_CHECK_TIMEOUT = 0.5

    started = time.monotonic()
    response = api_client.get("/api/v1/health")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"] == "error"
    assert body["checks"]["kafka"] == "error"
    assert body["checks"]["database"] == "ok"
    assert elapsed < 1.5


def test_unreachable_cache_gives_503(api_client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = api_client.get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error"
    assert response.json()["checks"]["broker"] == "skipped"


def test_health_is_not_throttled(api_client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "1/min")
    statuses = {api_client.get("/api/v1/health/live").status_code for _ in range(3)}
    assert statuses == {200}


def test_health_is_throttled_per_client_address_and_live_is_not(api_client, monkeypatch):
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    need_redis()
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "health", "3/min")

    statuses = [api_client.get("/api/v1/health").status_code for _ in range(4)]
    refused = api_client.get("/api/v1/health")

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) >= 1
    assert APIClient(REMOTE_ADDR="10.0.0.7").get("/api/v1/health").status_code != 429
    assert {api_client.get("/api/v1/health/live").status_code for _ in range(5)} == {200}


def test_health_reuses_a_recent_report_for_health_cache_seconds(
    api_client, settings, monkeypatch, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.core import health

    need_redis()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    settings.HEALTH_CACHE_SECONDS = 0.5
    monkeypatch.setattr(health, "_recent", None)
    runs = []
    monkeypatch.setattr(health, "check_cache", lambda: runs.append("cache") or health.OK)
    monkeypatch.setitem(health.CHECKS, "cache", health.check_cache)

    with CaptureQueriesContext(connection) as probed:
        first = api_client.get("/api/v1/health")
    assert "SELECT 1" in [query["sql"] for query in probed]
    with django_assert_num_queries(0):
        again = [api_client.get("/api/v1/health") for _ in range(3)]

    assert [r.json() for r in again] == [first.json()] * 3
    assert runs == ["cache"]

    time.sleep(0.6)
    with CaptureQueriesContext(connection) as probed_again:
        later = api_client.get("/api/v1/health")
    assert "SELECT 1" in [query["sql"] for query in probed_again]
    assert later.status_code == 200
    assert runs == ["cache", "cache"]


def test_the_database_probe_runs_on_the_request_connection_and_restores_it(api_client):
    """No worker thread and no new connection per probe (on a loaded machine those took longer
    than the timeout); on PostgreSQL a statement timeout bounds the probe and is reset after."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statement_timeout():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    before = statement_timeout() if connection.vendor == "postgresql" else None
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/v1/health")

    assert response.json()["checks"]["database"] == "ok"
    statements = [query["sql"] for query in queries]
    if connection.vendor == "postgresql":
        assert statements == ["SET statement_timeout = 2000", "SELECT 1", "RESET statement_timeout"]
        assert statement_timeout() == before
    else:
        assert statements == ["SELECT 1"]


def test_a_failing_database_probe_is_an_error(api_client, monkeypatch):
    def refused():
        raise OSError("connection refused")

    monkeypatch.setattr("apps.core.health.check_database", refused)
    response = api_client.get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"
