"""Tracing and error reporting, each on only when configured.

- With OTEL_EXPORTER_OTLP_ENDPOINT set, a process exports its spans over OTLP/HTTP (a real
  receiver on loopback decodes them); spans cover Django, psycopg, Redis, Celery and the relay,
  and the relay's spans continue the trace of the request that emitted the event, whose trace
  context also travels with the event (Kafka headers).
- With SENTRY_DSN set, request errors, task errors and the relay's error log lines reach Sentry
  (a real receiver of its envelopes), tagged with the request id.
"""

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client

from apps.core import observability
from apps.core.request_context import request_id_var
from apps.events import emit
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """An HTTP server on loopback keeping every POST body (decompressed) by path."""

    def __init__(self) -> None:
        bodies: list[tuple[str, bytes]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                bodies.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def run_django(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{script}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(receiver):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    result = run_django(
        "from django.test import Client\n"
        "from django.db import connection\n"
        "assert Client().get('/api/v1/health/live').status_code == 200\n"
        "connection.cursor().execute('SELECT 1')\n",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
    )
    assert result.returncode == 0, result.stderr
    names = []
    for path, body in receiver.bodies:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "marketplace"
            names += [span.name for scope in resource.scope_spans for span in scope.spans]
    assert "GET api/v1/health/live" in names
    assert "SELECT" in names


def test_nothing_is_exported_without_an_endpoint(receiver):
    result = run_django("from django.test import Client\nClient().get('/api/v1/health/live')\n")
    assert result.returncode == 0, result.stderr
    assert receiver.bodies == []


@pytest.fixture
def spans(settings):
    """Tracing in this process into memory, instrumentation removed afterwards."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = "http://in-memory"
    observability.setup_tracing(exporter=exporter)
    connection.close()  # the next connection is made by the instrumented psycopg
    try:
        yield exporter
    finally:
        for instrumentor in (
            DjangoInstrumentor,
            PsycopgInstrumentor,
            RedisInstrumentor,
            CeleryInstrumentor,
        ):
            instrumentor().uninstrument()
        observability._tracing = False
        connection.close()


@app.task(name="tests.traced")
def traced_task() -> str:
    return "ok"


@pytest.mark.django_db(transaction=True)
def test_spans_cover_django_psycopg_redis_celery_and_the_relay(spans, event_subscribers):
    from opentelemetry import trace

    delivered = []
    event_subscribers("probe.traced", lambda envelope: delivered.append(envelope["event_id"]))
    assert Client().get("/api/v1/health/live").status_code == 200
    cache.set("traced-probe", 1)
    traced_task.apply()
    tracer = trace.get_tracer("tests")
    token = request_id_var.set("req-traced")
    try:
        with tracer.start_as_current_span("a request") as request_span, transaction.atomic():
            event = emit("probe.traced", "k-1", {})
    finally:
        request_id_var.reset(token)
    assert len(delivered) == 1

    finished = spans.get_finished_spans()
    names = {span.name for span in finished}
    assert "GET api/v1/health/live" in names
    assert any(span.attributes.get("db.system") == "postgresql" for span in finished), names
    assert any(span.attributes.get("db.system") == "redis" for span in finished), names
    assert "run/tests.traced" in names
    # The relay's delivery continues the trace of the work that emitted the event, whose trace
    # context the event carries (and passes to Kafka as headers).
    event.refresh_from_db()
    trace_id = format(request_span.get_span_context().trace_id, "032x")
    assert event.context["request_id"] == "req-traced"
    assert event.context["traceparent"].split("-")[1] == trace_id
    (delivery,) = [s for s in finished if s.name == "outbox deliver probe.traced"]
    assert delivery.context.trace_id == request_span.get_span_context().trace_id
    assert delivery.parent.span_id == request_span.get_span_context().span_id


SENTRY_SCRIPT = """
import logging
from django.test import Client, override_settings
from apps.core.request_context import request_id_var
from config.celery import app
import sentry_sdk

with override_settings(ROOT_URLCONF="tests.core.urls"):
    response = Client(raise_request_exception=False).get(
        "/api/v1/test/boom", HTTP_X_REQUEST_ID="req-sentry-web"
    )
    assert response.status_code == 500

@app.task(name="tests.failing")
def failing():
    raise ValueError("task failed on purpose")

request_id_var.set("req-sentry-task")
try:
    failing.apply().get()
except ValueError:
    pass
request_id_var.set("req-sentry-relay")
try:
    raise KeyError("handler")
except KeyError:
    logging.getLogger("apps.events.dispatch").exception("event handler failed for probe")
sentry_sdk.flush(5)
"""


def test_errors_of_web_worker_and_relay_reach_sentry_with_the_request_id(receiver):
    port = receiver.url.rsplit(":", 1)[1]
    result = run_django(SENTRY_SCRIPT, SENTRY_DSN=f"http://public@127.0.0.1:{port}/1")
    assert result.returncode == 0, result.stderr
    events = []
    for path, body in receiver.bodies:
        assert path == "/api/1/envelope/"
        for line in body.splitlines():
            item = json.loads(line) if line.startswith(b"{") else {}
            if "exception" in item or "logentry" in item:
                events.append(item)
    found = {
        event["tags"].get("request_id"): (
            event.get("exception", {}).get("values", [{}])[-1].get("value")
            or event.get("logentry", {}).get("message")
        )
        for event in events
    }
    assert found["req-sentry-web"] == "kaboom: the database password is hunter2"
    assert found["req-sentry-task"] == "task failed on purpose"
    assert found["req-sentry-relay"] in ("'handler'", "event handler failed for probe")


def test_nothing_reaches_sentry_without_a_dsn(receiver):
    result = run_django(SENTRY_SCRIPT.replace("sentry_sdk.flush(5)", ""))
    assert result.returncode == 0, result.stderr
    assert receiver.bodies == []
