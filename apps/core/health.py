"""Readiness checks of the services the API depends on, each bounded by a short timeout."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger("apps.core.health")

CheckStatus = Literal["ok", "error", "skipped"]
OK: CheckStatus = "ok"
ERROR: CheckStatus = "error"
SKIPPED: CheckStatus = "skipped"


def _timeout() -> float:
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT", 2.0))


def check_database() -> CheckStatus:
    # Runs in a worker thread, so on its own connection, which it closes.
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connections["default"].close()
    return OK


def check_cache() -> CheckStatus:
    cache.set("health:probe", "1", timeout=10)
    if cache.get("health:probe") != "1":
        raise RuntimeError("the cache did not return what was written")
    return OK


def check_broker() -> CheckStatus:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return SKIPPED  # tasks run in-process; no broker is used
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=_timeout()) as conn:
        conn.ensure_connection(max_retries=0, timeout=_timeout())
    return OK


def check_kafka() -> CheckStatus:
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        return SKIPPED
    from confluent_kafka.admin import AdminClient

    timeout = _timeout()
    client = AdminClient(
        {
            "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
            "socket.timeout.ms": int(timeout * 1000),
            "socket.connection.setup.timeout.ms": int(timeout * 1000),
            "log_level": 0,  # librdkafka would print every refused connection to stderr
        }
    )
    client.list_topics(timeout=timeout)
    return OK


CHECKS: dict[str, Callable[[], CheckStatus]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "kafka": check_kafka,
}


def health_report() -> dict[str, object]:
    """Run every check concurrently; one that fails or outlives the timeout is "error".

    Returns {"status": "ok"|"error", "checks": {name: "ok"|"error"|"skipped"}}.
    """
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health")
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=_timeout() + 0.5)
    pool.shutdown(wait=False, cancel_futures=True)
    checks: dict[str, CheckStatus] = {}
    for name, future in futures.items():
        if not future.done():
            logger.warning("health check %s timed out", name)
            checks[name] = ERROR
        elif future.exception() is not None:
            logger.warning("health check %s failed: %r", name, future.exception())
            checks[name] = ERROR
        else:
            checks[name] = future.result()
    healthy = all(value != ERROR for value in checks.values())
    return {"status": OK if healthy else ERROR, "checks": checks}
