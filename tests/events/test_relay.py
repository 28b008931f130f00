"""The outbox and the relay to in-process subscribers (Kafka off: the embedded default)."""

import time
import uuid

import pytest
from django.db import transaction

from apps.events import emit, emit_many, idempotent_handler
from apps.events.lease import DatabaseLease
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.registry import subscribe, topic_for, unsubscribe
from apps.events.relay import RELAY_LEASE, relay_run

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


def test_emit_many_writes_one_row_per_event_in_order_and_schedules_the_relay_once(
    django_capture_on_commit_callbacks,
):
    keys = [uuid.UUID(int=n) for n in range(3)]
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        events = emit_many("stock.adjusted", [(key, {"n": n}) for n, key in enumerate(keys)])

    rows = list(OutboxEvent.objects.order_by("seq"))
    assert [row.id for row in rows] == [event.id for event in events]
    assert [(row.topic, row.key, row.type, row.version, row.payload) for row in rows] == [
        ("inventory", str(key), "stock.adjusted", 1, {"n": n}) for n, key in enumerate(keys)
    ]
    assert all(row.published_at is None for row in rows)
    assert len(callbacks) == 1
    assert emit_many("stock.adjusted", []) == []


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


def test_relay_returns_quietly_while_another_relay_holds_the_lease(received):
    got, on = received
    on("*")
    OutboxEvent.objects.create(topic="misc", key="k", type="test.locked")
    other = DatabaseLease(RELAY_LEASE, ttl_seconds=30, holder="another-relay")
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


def test_lease_release_only_by_its_holder_and_expiry_frees_it():
    holder = DatabaseLease("tests-lease", ttl_seconds=0.3, holder="relay-a")
    intruder = DatabaseLease("tests-lease", ttl_seconds=30, holder="relay-b")
    assert holder.acquire()
    assert not intruder.acquire()
    intruder.release()  # not the holder: a no-op
    assert not intruder.acquire()
    assert holder.extend()
    time.sleep(0.4)  # the holder "died": its lease expires
    assert intruder.acquire()
    assert not holder.extend()  # a late holder cannot extend someone else's lease
    holder.release()  # nor free it
    assert not DatabaseLease("tests-lease", ttl_seconds=1, holder="relay-c").acquire()
    intruder.release()
    assert DatabaseLease("tests-lease", ttl_seconds=1, holder="relay-c").acquire()


def test_a_thread_takes_its_own_unexpired_lease_back_at_once():
    """A relay whose run broke off (its database connection lost in a restart) holds a lease it
    never released: its next run, in the same thread, takes it back without waiting 15 s; any
    other thread still waits for it."""
    broken_run = DatabaseLease("tests-lease", ttl_seconds=30)
    assert broken_run.acquire()  # ... and never released

    assert DatabaseLease("tests-lease", ttl_seconds=30).acquire()
    assert not DatabaseLease("tests-lease", ttl_seconds=30, holder="another-thread").acquire()


def test_the_relay_lease_lives_fifteen_seconds_by_default():
    """A relay killed mid-run holds up delivery for the lease's lifetime at most."""
    from django.conf import settings

    assert settings.EVENTS_RELAY_LOCK_TTL == 15


def test_topics_by_domain():
    assert topic_for("order.placed") == "orders"
    assert topic_for("stock.adjusted") == "inventory"
    assert topic_for("product.published") == "catalog"
    assert topic_for("review.created") == "reviews"
