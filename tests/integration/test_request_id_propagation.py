"""The request id follows the work a request starts: into Celery tasks run by a real worker on
RabbitMQ (a message header), and into Kafka (a message header of the request's events)."""

import uuid

import pytest
from django.core.cache import cache
from django.db import transaction

from apps.core.request_context import request_id_var
from apps.events import emit
from config.celery import app
from tests.brokers import wait_for


@app.task(name="tests.request_id_echo")
def request_id_echo(key: str) -> None:
    cache.set(key, request_id_var.get(), 60)


def test_a_task_enqueued_in_a_request_runs_with_its_request_id(celery_worker_real):
    key = f"echo-{uuid.uuid4().hex}"
    token = request_id_var.set("req-celery-1")
    try:
        request_id_echo.delay(key)
    finally:
        request_id_var.reset(token)
    assert wait_for(lambda: cache.get(key), timeout=20) == "req-celery-1"
    # A task enqueued outside any request runs with none (not the previous task's).
    other = f"echo-{uuid.uuid4().hex}"
    request_id_echo.delay(other)
    assert wait_for(lambda: cache.get(other), timeout=20) == "-"


@pytest.mark.django_db
def test_events_of_a_request_carry_its_request_id_to_kafka(
    kafka_settings, event_subscribers, django_capture_on_commit_callbacks
):
    seen = []
    event_subscribers("order.placed", lambda envelope: seen.append(request_id_var.get()))
    token = request_id_var.set("req-kafka-1")
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event = emit("order.placed", uuid.uuid4(), {"total": "1.00"})
    finally:
        request_id_var.reset(token)
    [record] = kafka_settings.read("orders")
    assert record.headers == {
        "request_id": "req-kafka-1",
        "event_type": "order.placed",
        "event_id": str(event.id),
    }
    event.refresh_from_db()
    assert event.context == {"request_id": "req-kafka-1"}
    assert seen == ["req-kafka-1"]  # the subscribers (and what they enqueue) run with it too
