"""Readiness checks of the services the API depends on, each bounded by a short timeout.

The report is kept for HEALTH_CACHE_SECONDS in this process: load balancers and monitors poll it
often, and each run costs a round trip to every service."""

import logging
import threading
import time
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
    """SELECT 1 on the calling thread's own connection (opened if needed, kept as CONN_MAX_AGE
    says), bounded on PostgreSQL by a statement timeout. A worker thread with a connection of
    its own per probe cost twenty times the query on a loaded machine, and pushed the probe of a
    healthy database past the timeout."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("SELECT 1")
            cursor.fetchone()
            return OK
        cursor.execute("SET statement_timeout = %s", [int(_timeout() * 1000)])
        try:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        finally:
            cursor.execute("RESET statement_timeout")
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


# Run concurrently in worker threads while the database is probed on the calling thread.
CHECKS: dict[str, Callable[[], CheckStatus]] = {
    "cache": check_cache,
    "broker": check_broker,
    "kafka": check_kafka,
}


def _outcome(name: str, check: Callable[[], CheckStatus]) -> CheckStatus:
    try:
        return check()
    except Exception as exc:
        logger.warning("health check %s failed: %r", name, exc)
        return ERROR


def health_report() -> dict[str, object]:
    """Run every check; one that fails or outlives the timeout is "error". The database is
    probed on this thread, the others concurrently in worker threads meanwhile.

    Returns {"status": "ok"|"error", "checks": {name: "ok"|"error"|"skipped"}}.
    """
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health")
    futures = {name: pool.submit(_outcome, name, check) for name, check in CHECKS.items()}
    checks: dict[str, CheckStatus] = {"database": _outcome("database", check_database)}
    wait(futures.values(), timeout=_timeout() + 0.5)
    pool.shutdown(wait=False, cancel_futures=True)
    for name, future in futures.items():
        if future.done():
            checks[name] = future.result()
        else:
            logger.warning("health check %s timed out", name)
            checks[name] = ERROR
    healthy = all(value != ERROR for value in checks.values())
    return {"status": OK if healthy else ERROR, "checks": checks}


_recent_lock = threading.Lock()
_recent: tuple[float, dict[str, object]] | None = None  # (monotonic expiry, report)


def health_report_recent() -> dict[str, object]:
    """The last report of this process while it is younger than HEALTH_CACHE_SECONDS, else a new
    one. Concurrent callers wait for the one run in progress instead of starting their own."""
    global _recent
    with _recent_lock:
        if _recent is not None and _recent[0] > time.monotonic():
            return _recent[1]
        report = health_report()
        _recent = (time.monotonic() + settings.HEALTH_CACHE_SECONDS, report)
        return report
