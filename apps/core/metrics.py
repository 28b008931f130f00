"""Prometheus metrics: what the API counts, and `/metrics`, which shows them.

Off unless `METRICS_ENABLED`: then `MetricsMiddleware` counts requests (by method, route pattern
and status), their latency and their database queries, and `/metrics` answers staff (an admin
session), `Authorization: Bearer <METRICS_TOKEN>` or a client address in `METRICS_ALLOWED_IPS`
(behind nginx the address comes from X-Forwarded-For, as for throttles: `NUM_PROXIES`).

Two kinds of metric:

- counted where it happens, with prometheus-client's `Counter`/`Histogram`/`Gauge` declared in
  the app that counts (`apps/<app>/metrics.py`: orders placed, stock-outs, catalog cache hits,
  open streams; Celery task outcomes and database queries here). Processes of one machine share
  them through `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode: `make stack`
  sets it for gunicorn's workers, uvicorn, Celery and the relay), so `/metrics` on any web
  worker shows all of them;
- read at scrape time from the system of record (outbox lag, queue depths): a function
  returning metric families, registered by its app in `AppConfig.ready()` with
  `register_scrape_collector`. A new app adds its own the same way.

Names start with `marketplace_`.
"""

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db.backends.signals import connection_created
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric
from rest_framework.throttling import BaseThrottle

from apps.core.exceptions import problem, problem_json_response

logger = logging.getLogger(__name__)

PREFIX = "marketplace"
UNMATCHED = "<unmatched>"

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by method, route pattern and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_DB_QUERIES = Histogram(
    f"{PREFIX}_http_request_db_queries",
    "Database queries of one HTTP request, by route pattern.",
    ["route"],
    buckets=(0, 1, 2, 4, 8, 16, 32, 64, 128),
)
DB_QUERIES = Counter(
    f"{PREFIX}_db_queries", "Database queries run, in every process, by alias.", ["alias"]
)
CACHE_ERRORS = Counter(
    f"{PREFIX}_cache_errors",
    "Cache calls that failed (Redis unreachable) and were answered without the cache; throttles "
    "let those requests through.",
)
CELERY_TASKS = Counter(
    f"{PREFIX}_celery_tasks",
    "Celery task runs by task name and outcome (SUCCESS, FAILURE, RETRY, REJECTED, ...).",
    ["task", "outcome"],
)

ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: list[ScrapeCollector] = []
_request_queries: ContextVar[list[int] | None] = ContextVar("request_queries", default=None)


def register_scrape_collector(collect: ScrapeCollector) -> None:
    """Have `collect()` add metric families (e.g. `GaugeMetricFamily`) to every scrape. It runs
    in the web process answering `/metrics`; a failure is logged and leaves its metrics out."""
    if collect not in _scrape_collectors:
        _scrape_collectors.append(collect)


class _ScrapeTime:
    def collect(self) -> Iterator[Metric]:
        for collect in list(_scrape_collectors):
            try:
                yield from collect()
            except Exception:
                logger.exception("metrics collector %s failed", getattr(collect, "__name__", ""))


class _ThisProcess:
    """The default registry's metrics (one process: no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ScrapeTime())
    return registry


# --- requests and queries ----------


def _count_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
    tally = _request_queries.get()
    if tally is not None:
        tally[0] += 1
    DB_QUERIES.labels(context["connection"].alias).inc()
    return execute(sql, params, many, context)


def _wrap_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


def route_of(request: HttpRequest, status: int) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None and status != 404:
        # Answered by a middleware before the URL was resolved (an idempotent replay, a
        # throttle): resolved here. A 404 is not, so that a scan of unknown paths costs nothing.
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED
    return match.route if match is not None and match.route else UNMATCHED


class MetricsMiddleware:
    """Counts every request by its route pattern (never the raw path: ids would make a series
    each), its latency and its database queries. Not loaded unless METRICS_ENABLED."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.METRICS_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        tally = [0]
        token = _request_queries.set(tally)
        try:
            response = self.get_response(request)
        finally:
            _request_queries.reset(token)
        route = route_of(request, response.status_code)
        method = request.method or ""
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        HTTP_DB_QUERIES.labels(route).observe(tally[0])
        return response


# --- Celery ----------


def _task_done(sender: Any = None, state: str | None = None, **kwargs: Any) -> None:
    CELERY_TASKS.labels(getattr(sender, "name", "unknown"), state or "UNKNOWN").inc()


def connect() -> None:
    """Count database queries and Celery task outcomes in this process (CoreConfig.ready)."""
    if not settings.METRICS_ENABLED:
        return
    from celery.signals import task_postrun

    connection_created.connect(_wrap_connection, dispatch_uid="metrics-db-queries")
    task_postrun.connect(_task_done, dispatch_uid="metrics-celery-tasks", weak=False)


# --- /metrics ----------


def _client_allowed(request: HttpRequest) -> bool:
    if not settings.METRICS_ALLOWED_IPS:
        return False
    try:
        address = ipaddress.ip_address(BaseThrottle().get_ident(request))  # type: ignore[arg-type]
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS: %r is not an address or network", allowed)
    return False


def _token_matches(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return (
        bool(token) and scheme == "Bearer" and hmac.compare_digest(given.encode(), token.encode())
    )


def metrics_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return (
        bool(user is not None and user.is_active and user.is_staff)
        or _token_matches(request)
        or _client_allowed(request)
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_ENABLED:
        raise Http404("metrics are off")
    if not metrics_allowed(request):
        return problem_json_response(
            problem(
                status=403,
                code="metrics.forbidden",
                title="Metrics are not for you",
                detail="Sign in as staff, send the METRICS_TOKEN as a Bearer token or come from "
                "an address in METRICS_ALLOWED_IPS.",
            )
        )
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
