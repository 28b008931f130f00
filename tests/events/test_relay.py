"""The outbox and the relay to in-process subscribers (Kafka off: the embedded default)."""

import time
import uuid

import pytest
from django.db import transaction

from apps.events import emit, idempotent_handler
from apps.events.lock import RedisLock
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.registry import subscribe, topic_for, unsubscribe
from apps.events.relay import RELAY_LOCK, relay_run
from tests.services import need_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    """Subscribe a recorder to `test.*` event types for the duration of a test."""
    got: list[dict] = []
    handlers = []

    def on(event_type, handler=None):
        handler = handler or got.append
        subscribe(event_type, handler)
        handlers.append((event_type, handler))
        return handler

    got_on = on
    yield got, got_on
    for event_type, handler in handlers:
        unsubscribe(event_type, handler)


def test_emit_writes_the_outbox_row_in_the_callers_transaction(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        event = emit("order.placed", uuid.UUID(int=7), {"total": "10.00"})
    row = OutboxEvent.objects.get()
    assert row.id == event.id
    assert (row.topic, row.key, row.type, row.version) == ("orders", str(uuid.UUID(int=7)),
                                                          "order.placed", 1)  # fmt: skip
    assert row.payload == {"total": "10.00"}
    assert row.published_at is None
    assert row.attempts == 0
    assert len(callbacks) == 1  # the relay is scheduled after commit, not before


def test_rolled_back_transaction_writes_and_schedules_nothing(django_capture_on_commit_callbacks):
    def place_and_fail():
        with transaction.atomic():
            emit("order.placed", "o-1", {})
            raise RuntimeError("business rule failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="business rule failed"),
    ):
        place_and_fail()
    assert OutboxEvent.objects.count() == 0
    assert callbacks == []


def test_after_commit_subscribers_get_the_envelope_and_the_event_is_published(
    received, django_capture_on_commit_callbacks
):
    got, on = received
    on("test.happened")
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("test.happened", "k-1", {"n": 1})
    event.refresh_from_db()
    assert got == [
        {
            "event_id": str(event.id),
            "type": "test.happened",
            "version": 1,
            "occurred_at": event.occurred_at.isoformat(),
            "key": "k-1",
            "data": {"n": 1},
        }
    ]
    assert event.published_at is not None
    assert event.attempts == 0
    assert event.last_error == ""


def test_relay_delivers_pending_events_in_creation_order(received):
    got, on = received
    on("*")
    for n in range(5):
        OutboxEvent.objects.create(topic="misc", key=f"k{n % 2}", type="test.n", payload={"n": n})
    result = relay_run(batch_size=2)
    assert result.published == 5
    assert not result.failed
    assert [e["data"]["n"] for e in got] == [0, 1, 2, 3, 4]
    assert not OutboxEvent.objects.filter(published_at=None).exists()
    assert relay_run().published == 0  # nothing twice


def test_failing_handler_neither_blocks_other_handlers_nor_the_event(received, caplog):
    got, on = received

    def broken(_event):
        raise ValueError("template missing")

    on("test.mixed", broken)
    on("test.mixed")
    event = OutboxEvent.objects.create(topic="misc", key="k", type="test.mixed")
    OutboxEvent.objects.create(topic="misc", key="k", type="test.mixed")
    assert relay_run().published == 2
    assert len(got) == 2  # the healthy handler saw both events
    event.refresh_from_db()
    assert event.published_at is not None
    assert event.attempts == 1
    assert "broken" in event.last_error
    assert "template missing" in event.last_error
    assert "event handler" in caplog.text


def test_failing_handler_rolls_back_only_its_own_writes(received):
    _got, on = received

    def writes_then_fails(event):
        ProcessedEvent.objects.create(consumer="half-done", event_id=event["event_id"])
        raise RuntimeError("after a write")

    on("test.partial", writes_then_fails)
    OutboxEvent.objects.create(topic="misc", key="k", type="test.partial")
    relay_run()
    assert not ProcessedEvent.objects.filter(consumer="half-done").exists()
    assert OutboxEvent.objects.filter(published_at=None).count() == 0


def test_idempotent_handler_runs_once_per_event_id():
    calls = []

    @idempotent_handler("tests.counter")
    def count(event):
        calls.append(event["event_id"])
        return "done"

    envelope = {"event_id": str(uuid.uuid4()), "type": "test.x", "data": {}}
    assert count(envelope) == "done"
    assert count(envelope) is None
    assert count(dict(envelope)) is None
    other = {**envelope, "event_id": str(uuid.uuid4())}
    assert count(other) == "done"
    assert calls == [envelope["event_id"], other["event_id"]]
    assert ProcessedEvent.objects.filter(consumer="tests.counter").count() == 2


def test_idempotent_handler_that_fails_is_not_marked_processed():
    attempts = []

    @idempotent_handler("tests.flaky")
    def flaky(event):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    envelope = {"event_id": str(uuid.uuid4())}
    with pytest.raises(RuntimeError):
        flaky(envelope)
    assert not ProcessedEvent.objects.filter(consumer="tests.flaky").exists()
    flaky(envelope)  # the redelivery does the work
    flaky(envelope)
    assert len(attempts) == 2
    assert ProcessedEvent.objects.filter(consumer="tests.flaky").count() == 1


def test_redelivered_event_reaches_an_idempotent_subscriber_once(received):
    effects = []
    _got, on = received
    on("test.redelivered", idempotent_handler("tests.redelivered")(effects.append))
    event = OutboxEvent.objects.create(topic="misc", key="k", type="test.redelivered")
    relay_run()
    OutboxEvent.objects.filter(pk=event.pk).update(published_at=None)  # e.g. admin re-publish
    relay_run()
    assert [e["event_id"] for e in effects] == [str(event.id)]


def test_relay_returns_quietly_while_another_relay_holds_the_lock(received):
    need_redis()
    got, on = received
    on("*")
    OutboxEvent.objects.create(topic="misc", key="k", type="test.locked")
    other = RedisLock(RELAY_LOCK, ttl_seconds=30)
    assert other.acquire()
    try:
        result = relay_run()
        assert result.skipped
        assert result.published == 0
        assert got == []
        assert OutboxEvent.objects.filter(published_at=None).count() == 1
    finally:
        other.release()
    assert relay_run().published == 1


def test_lock_release_only_by_its_owner_and_expiry_frees_it():
    need_redis()
    owner = RedisLock("tests-lock", ttl_seconds=0.3)
    intruder = RedisLock("tests-lock", ttl_seconds=30)
    assert owner.acquire()
    assert not intruder.acquire()
    intruder.release()  # not the owner: a no-op
    assert not intruder.acquire()
    assert owner.extend()
    time.sleep(0.4)  # the owner "died": its lock expires
    assert intruder.acquire()
    assert not owner.extend()  # a late owner cannot extend someone else's lock
    owner.release()  # nor delete it
    assert not RedisLock("tests-lock", ttl_seconds=1).acquire()
    intruder.release()
    assert RedisLock("tests-lock", ttl_seconds=1).acquire()


def test_topics_by_domain():
    assert topic_for("order.placed") == "orders"
    assert topic_for("stock.adjusted") == "inventory"
    assert topic_for("product.published") == "catalog"
    assert topic_for("review.created") == "reviews"
