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
