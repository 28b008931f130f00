"""The outbox relay against a real Kafka-protocol broker (Tansu, or KAFKA_BOOTSTRAP_SERVERS)."""

import threading
import time
import uuid
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from apps.events import emit, idempotent_handler
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.relay import relay_run
from tests.brokers import free_port
from tests.services import need_postgres, need_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def subscribed(event_subscribers):
    """The apps' real subscribers stay out of these tests; `subscribed(type, handler)` adds one."""
    return event_subscribers


def test_committed_event_reaches_kafka_with_key_and_envelope(
    kafka_settings, django_capture_on_commit_callbacks
):
    order_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = emit("order.placed", order_id, {"order_id": str(order_id), "total": "12.50"})

    [record] = kafka_settings.read("orders")
    event.refresh_from_db()
    assert record.topic == kafka_settings.topic("orders")
    assert record.key == str(order_id)
    assert record.value == {
        "event_id": str(event.id),
        "type": "order.placed",
        "version": 1,
        "occurred_at": event.occurred_at.isoformat(),
        "data": {"order_id": str(order_id), "total": "12.50"},
    }
    assert record.headers == {"event_type": "order.placed", "event_id": str(event.id)}
    assert event.published_at is not None
    assert event.attempts == 0


def test_rolled_back_transaction_sends_nothing(kafka_settings, django_capture_on_commit_callbacks):
    def place_and_fail():
        with transaction.atomic():
            emit("order.placed", "o-1", {})
            raise RuntimeError("payment declined")

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError, match="payment declined"),
    ):
        place_and_fail()
    with django_capture_on_commit_callbacks(execute=True):
        emit("stock.adjusted", "sku-1", {"delta": 1})  # a later, committed event

    assert OutboxEvent.objects.filter(type="order.placed").count() == 0
    assert kafka_settings.read("orders") == []
    assert [r.key for r in kafka_settings.read("inventory")] == ["sku-1"]


def test_broker_down_while_200_events_are_emitted_loses_nothing(
    kafka_settings, settings, django_capture_on_commit_callbacks
):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nobody listens there
    settings.KAFKA_MESSAGE_TIMEOUT_MS = 1000
    with django_capture_on_commit_callbacks() as scheduled:
        for n in range(200):
            with transaction.atomic():
                emit("order.placed", f"order-{n % 7}", {"n": n})
    assert len(scheduled) == 200
    for _attempt in range(2):  # the after-commit relay and a sweep, both while the broker is down
        result = relay_run()
        assert result.failed
        assert result.published == 0

    head = OutboxEvent.objects.order_by("seq").first()
    assert OutboxEvent.objects.filter(published_at=None).count() == 200
    assert head.attempts == 2
    assert head.last_error.startswith("kafka: ")
    assert "timed out" in head.last_error
    assert OutboxEvent.objects.filter(attempts__gt=0).count() == 1  # the head blocks the rest

    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_settings.bootstrap  # the broker is back
    settings.KAFKA_MESSAGE_TIMEOUT_MS = 10000
    result = relay_run()

    assert result.published == 200
    assert not result.failed
    assert not OutboxEvent.objects.filter(published_at=None).exists()
    records = kafka_settings.read("orders")
    assert len(records) == 200  # once each: nothing reached the broker while it was down
    assert sorted(r.value["data"]["n"] for r in records) == list(range(200))
    _assert_per_key_order(records)


def test_relay_killed_midway_and_restarted_delivers_every_event_once_after_dedupe(
    kafka_settings, subscribed
):
    class RelayKilled(BaseException):
        """Stands in for the process dying: nothing in the relay may catch it."""

    effects: list[str] = []
    delivered = {"n": 0}

    @idempotent_handler("tests.order_effects")
    def on_order(event):
        delivered["n"] += 1
        if delivered["n"] == 120:
            raise RelayKilled
        effects.append(event["event_id"])

    subscribed("order.placed", on_order)
    ids = [str(emit("order.placed", f"order-{n % 5}", {"n": n}).id) for n in range(200)]

    with pytest.raises(RelayKilled):
        relay_run(batch_size=50)
    published_before = OutboxEvent.objects.exclude(published_at=None).count()
    assert 0 < published_before < 200

    result = relay_run(batch_size=50)  # the restarted relay

    assert not OutboxEvent.objects.filter(published_at=None).exists()
    assert result.published == 200 - published_before
    records = kafka_settings.read("orders")
    assert len(records) > 200  # part of the killed batch went out twice (at least once)
    deduped = {}
    for record in records:  # a consumer keeping the first copy of each event_id
        deduped.setdefault(record.value["event_id"], record)
    assert sorted(deduped) == sorted(ids)
    _assert_per_key_order(list(deduped.values()))
    # The subscriber's effects: exactly one per event, the killed delivery included.
    assert sorted(effects) == sorted(ids)
    assert ProcessedEvent.objects.filter(consumer="tests.order_effects").count() == 200


def test_per_key_order_is_preserved(kafka_settings):
    for n in range(60):
        emit("order.status_changed", f"order-{n % 4}", {"n": n})
    relay_run(batch_size=7)
    records = kafka_settings.read("orders")
    assert len(records) == 60
    _assert_per_key_order(records)
    by_key = defaultdict(list)
    for record in records:
        by_key[record.key].append(record.value["data"]["n"])
    assert by_key["order-1"] == list(range(1, 60, 4))


@pytest.mark.django_db(transaction=True)
def test_two_relays_racing_publish_each_event_once(kafka_settings):
    need_postgres()
    need_redis()
    OutboxEvent.objects.bulk_create(
        OutboxEvent(topic="orders", key=f"order-{n % 3}", type="order.placed", payload={"n": n})
        for n in range(300)
    )
    start = threading.Barrier(4)
    results = []
    errors = []

    def relay():
        try:
            start.wait()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                result = relay_run(batch_size=10, max_batches=2)
                results.append(result)
                if not OutboxEvent.objects.filter(published_at=None).exists():
                    break
                if result.skipped:
                    time.sleep(0.002)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(r.published for r in results) == 300
    assert any(r.skipped for r in results)  # they did contend for the lock
    records = kafka_settings.read("orders")
    assert len(records) == 300
    assert len({r.value["event_id"] for r in records}) == 300
    _assert_per_key_order(records)


def test_consume_events_prints_events_and_commits_the_group_offset(kafka_settings, capsys):
    for n in range(3):
        emit("order.placed", f"order-{n}", {"n": n})
    relay_run()
    group = f"ops-{uuid.uuid4().hex[:8]}"

    call_command("consume_events", "--topic", "orders", "--group", group, "--max", "2")
    first = capsys.readouterr().out.splitlines()
    emit("order.placed", "order-3", {"n": 3})
    relay_run()
    call_command("consume_events", "--topic", "orders", "--group", group, "--idle-timeout", "1")
    rest = capsys.readouterr().out.splitlines()
    call_command(
        "consume_events", "--topic", "orders", "--group", group, "--from-beginning", "--max", "4"
    )
    again = capsys.readouterr().out.splitlines()

    import orjson

    seen = [orjson.loads(line) for line in first + rest]
    assert len(first) == 2
    assert sorted(e["data"]["n"] for e in seen) == [0, 1, 2, 3]  # continued, no repeats
    assert {e["type"] for e in seen} == {"order.placed"}
    assert all(e["key"] == f"order-{e['data']['n']}" for e in seen)
    assert len(again) == 4


def _assert_per_key_order(records):
    """Within a key, events appear in the order they were created (`n` rises)."""
    by_key = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(record.value["data"]["n"])
    for key, numbers in by_key.items():
        assert numbers == sorted(numbers), f"out of order for {key}: {numbers}"


def test_consume_events_prints_a_tombstone_instead_of_stopping(kafka_settings, capsys):
    """Another producer's tombstone (a message without a value) on a topic we read."""
    from confluent_kafka import Producer

    emit("order.placed", "order-1", {"n": 1})
    relay_run()
    producer = Producer({"bootstrap.servers": kafka_settings.bootstrap})
    producer.produce(f"{kafka_settings.prefix}orders", key=b"order-1", value=None)
    assert producer.flush(10) == 0
    group = f"ops-{uuid.uuid4().hex[:8]}"

    call_command("consume_events", "--topic", "orders", "--group", group, "--max", "2")

    import orjson

    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("type") for line in lines] == ["order.placed", None]
    assert lines[1]["value"] is None
    assert lines[1]["key"] == "order-1"
