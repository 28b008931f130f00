"""The task outbox (`apps.events.task_outbox`): a task recorded in a transaction is sent after it
commits, kept until it was sent, and sent again by the relay when the first send failed."""

import os
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu import Exchange, Queue

from apps.events import task_outbox
from apps.events.models import OutboxEvent, PendingTask
from apps.events.relay import relay_run
from apps.events.task_outbox import pending_tasks_send, task_enqueue
from config.celery import app, use_queue_prefix
from tests.brokers import wait_for
from tests.services import need_rabbitmq

pytestmark = pytest.mark.django_db

RUNS: list[str] = []
FAILING = {"on": False}


@app.task(name="tests.events.outbox_probe")
def outbox_probe(label: str) -> str:
    if FAILING["on"]:
        raise ConnectionError("the broker is unreachable")  # as a failed send would raise
    RUNS.append(label)
    return label


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()
    FAILING["on"] = False


def test_a_task_is_sent_after_commit_and_its_row_removed(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_enqueue(outbox_probe, label="a")
        assert RUNS == []  # nothing is sent before the commit
        assert list(PendingTask.objects.values_list("name", "kwargs")) == [
            ("tests.events.outbox_probe", {"label": "a"})
        ]
    for callback in callbacks:
        callback()

    assert RUNS == ["a"]
    assert not PendingTask.objects.exists()


def test_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        task_enqueue(outbox_probe, label="never")
        transaction.set_rollback(True)

    assert RUNS == []
    assert not PendingTask.objects.exists()


def test_a_failed_send_waits_in_the_outbox_and_the_relay_sends_it_later(
    django_capture_on_commit_callbacks,
):
    FAILING["on"] = True
    with django_capture_on_commit_callbacks(execute=True):
        task_enqueue(outbox_probe, label="late")

    (row,) = PendingTask.objects.all()
    assert (row.attempts, row.last_error) == (1, "ConnectionError('the broker is unreachable')")
    assert row.next_attempt_at > timezone.now()  # not due yet: a growing delay per row
    assert pending_tasks_send() == 0  # the relay's pass leaves it until it is due

    FAILING["on"] = False
    PendingTask.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    relay_run()

    assert RUNS == ["late"]
    assert not PendingTask.objects.exists()


def test_the_delay_grows_with_each_failed_send():
    FAILING["on"] = True
    row = PendingTask.objects.create(name=outbox_probe.name, kwargs={"label": "x"})
    delays = []
    for _ in range(5):
        PendingTask.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        pending_tasks_send()
        row.refresh_from_db()
        delays.append((row.next_attempt_at - before).total_seconds())
    expected = [5, 15, 60, 300, 300]
    assert all(e <= d < e + 5 for e, d in zip(expected, delays, strict=True)), delays
    assert row.attempts == 5


@pytest.fixture
def not_eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = previous


@pytest.mark.usefixtures("not_eager")
def test_a_failed_send_pauses_sending_in_the_process_when_not_eager(monkeypatch):
    """While the broker is down, callers do not wait on one connection attempt after another."""
    monkeypatch.setattr(task_outbox, "_paused_until", 0.0)
    sends = []

    def refused(row):
        sends.append(row.pk)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(task_outbox, "_send", refused)
    PendingTask.objects.bulk_create(
        [PendingTask(name=outbox_probe.name, kwargs={"label": str(i)}) for i in range(3)]
    )

    assert pending_tasks_send() == 0
    assert pending_tasks_send() == 0

    assert len(sends) == 1  # the first refusal paused every later send
    assert task_outbox.broker_paused()
    assert PendingTask.objects.count() == 3


@pytest.mark.integration
def test_an_event_subscriber_task_reaches_the_real_worker(celery_worker_real, event_subscribers):
    """With RabbitMQ: the handler records the task in the relay's transaction, it is sent after
    commit, the worker runs it, and the outbox row is gone."""
    event_subscribers("test.outbox", lambda envelope: task_enqueue(outbox_probe, label="worker"))
    OutboxEvent.objects.create(topic="misc", key="k", type="test.outbox")

    assert relay_run().published == 1

    wait_for(lambda: RUNS == ["worker"])
    assert not PendingTask.objects.exists()


@pytest.mark.integration
@pytest.mark.usefixtures("not_eager")
def test_a_message_the_broker_refuses_stays_in_the_outbox(monkeypatch):
    """Publisher confirms: RabbitMQ refusing a message (here a full queue that rejects
    publishes) fails the send, so the row stays and is sent again, instead of the message
    vanishing after its row was deleted (as happened while a broker node stopped)."""
    need_rabbitmq()
    name = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}.refusing"
    refusing = Queue(
        name,
        Exchange(name, type="direct"),
        routing_key=name,
        queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    monkeypatch.setattr(task_outbox, "_paused_until", 0.0)
    monkeypatch.setitem(app.conf, "task_routes", {outbox_probe.name: {"queue": refusing}})
    use_queue_prefix(app.conf.get("queue_prefix", ""))  # a router with the route above
    task_enqueue(outbox_probe, label="refused")
    try:
        assert pending_tasks_send() == 0
    finally:
        monkeypatch.undo()
        use_queue_prefix(app.conf.get("queue_prefix", ""))
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            channel.queue_delete(name)
            channel.exchange_delete(name)

    row = PendingTask.objects.get()
    assert (row.kwargs, row.attempts) == ({"label": "refused"}, 1)
    assert row.last_error.startswith("OperationalError")  # kombu's wrapper of the nack
    assert RUNS == []
