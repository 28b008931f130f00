"""Correlation, tracing and error reporting, for every process (web, stream, worker, relay).

- The request id (apps.core.middleware) follows the work a request starts: Celery tasks get it
  as a message header (`request_id`) and run with it (their log lines carry it); outbox events
  record it with the trace context (`OutboxEvent.context`), and the relay passes both on as
  Kafka headers and to the tasks the subscribers enqueue. Always on: it costs a header.
- OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: spans of Django requests, psycopg
  queries, Redis commands and Celery tasks (the maintained instrumentation packages) and of the
  relay's deliveries, exported over OTLP/HTTP. The other `OTEL_*` variables (service name,
  sampler, headers) are the SDK's own.
- Sentry when `SENTRY_DSN` is set: unhandled errors of requests and tasks and error log lines
  (the relay's failures) are reported, tagged with the request id.

Everything here is imported only when configured: `make run` needs none of it.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from apps.core.request_context import request_id_var

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "request_id"
NO_REQUEST = "-"
_tracing = False


def setup() -> None:
    connect_request_id()
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        setup_tracing()
    if settings.SENTRY_DSN:
        setup_sentry()


# --- request id into Celery ----------


def _publish_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != NO_REQUEST:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


def _task_request_id(task: Any = None, **kwargs: Any) -> None:
    if task is None or task.request.is_eager:
        return  # eager: runs in its caller's context, which holds the id already
    request_id_var.set(getattr(task.request, REQUEST_ID_HEADER, None) or NO_REQUEST)


def _task_request_id_done(task: Any = None, **kwargs: Any) -> None:
    if task is not None and not task.request.is_eager:
        request_id_var.set(NO_REQUEST)


def connect_request_id() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_publish_request_id, dispatch_uid="request-id-publish", weak=False)
    task_prerun.connect(_task_request_id, dispatch_uid="request-id-task", weak=False)
    task_postrun.connect(_task_request_id_done, dispatch_uid="request-id-task-done", weak=False)


def current_context() -> dict[str, str]:
    """What an outbox event records of the work that emitted it: the request id and, when
    tracing, the W3C trace context (traceparent, tracestate)."""
    context: dict[str, str] = {}
    request_id = request_id_var.get()
    if request_id != NO_REQUEST:
        context[REQUEST_ID_HEADER] = request_id
    if _tracing:
        from opentelemetry.propagate import inject

        inject(context)
    return context


@contextmanager
def continued(context: dict[str, str], span_name: str) -> Iterator[None]:
    """Run a block as part of the work recorded in `context` (see `current_context`): with its
    request id, and, when tracing, in a span that is a child of its trace."""
    token = request_id_var.set(context.get(REQUEST_ID_HEADER) or NO_REQUEST)
    try:
        if not _tracing:
            yield
            return
        from opentelemetry import trace
        from opentelemetry.propagate import extract

        tracer = trace.get_tracer("apps.events.relay")
        with tracer.start_as_current_span(
            span_name, context=extract(context), kind=trace.SpanKind.CONSUMER
        ):
            yield
    finally:
        request_id_var.reset(token)


# --- OpenTelemetry ----------


def setup_tracing(exporter: Any = None) -> None:
    """Export spans of this process (`exporter`: tests pass an in-memory one)."""
    global _tracing
    if _tracing:
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/")
        processor: Any = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    else:
        processor = SimpleSpanProcessor(exporter)
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, when set, win over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": "marketplace"}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    _tracing = True
    logger.info("tracing: spans go to %s", settings.OTEL_EXPORTER_OTLP_ENDPOINT or exporter)


# --- Sentry ----------


def _tag_request_id(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    request_id = request_id_var.get()
    if request_id != NO_REQUEST:
        event.setdefault("tags", {})[REQUEST_ID_HEADER] = request_id
    return event


def setup_sentry() -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_tag_request_id,  # type: ignore[arg-type]
    )
