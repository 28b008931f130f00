"""Two relays and two Celery workers, each a process of its own, race through a burst of order
events: per aggregate key the events reach Kafka in outbox order, each once, and every event's
notifications exist exactly once.

The test process only writes (as an API process does): its inline relay shortcut is off, so
the two `manage.py relay_events` processes deliver (small batches, so the lease changes hands),
and the notification tasks they send to RabbitMQ run in two `celery worker` processes. All of
them share the test database, on queues and topics of their own."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from apps.events.models import OutboxEvent, PendingTask
from apps.notifications.models import Notification
from apps.notifications.rules import messages_for
from apps.orders.services import order_transition
from config.celery import WORK_QUEUES
from tests.brokers import kafka_read, wait_for
from tests.orders.factories import UserFactory, place, stocked_variant
from tests.services import need_postgres, need_rabbitmq

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 12


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def processes(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    need_postgres()
    need_rabbitmq()
    # This process is an API process: its writes go out through the relays below, not inline.
    monkeypatch.setattr("apps.events.relay.schedule_relay", lambda: None)
    run = uuid.uuid4().hex[:10]
    topic_prefix = f"race{run}."
    monkeypatch.setattr(settings, "KAFKA_TOPIC_PREFIX", topic_prefix)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "BENCH_DATABASE_URL": _database_url(),
        "BENCH_CELERY_EAGER": "false",
        "BENCH_CELERY_QUEUE_PREFIX": f"race-{run}-",
        "BENCH_CACHE_KEY_PREFIX": f"race-{run}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
    }
    bindir = Path(sys.executable).parent
    queues = ",".join(f"race-{run}-{queue}" for queue in WORK_QUEUES)
    commands = {
        "relay-1": [sys.executable, "manage.py", "relay_events", "--interval", "0.1",
                    "--batch-size", "4"],
        "relay-2": [sys.executable, "manage.py", "relay_events", "--interval", "0.1",
                    "--batch-size", "4"],
        "worker-1": [str(bindir / "celery"), "-A", "config", "worker", "-Q", queues,
                     "--pool", "solo", "-n", f"race1-{run}@%h", "--loglevel", "WARNING"],
        "worker-2": [str(bindir / "celery"), "-A", "config", "worker", "-Q", queues,
                     "--pool", "solo", "-n", f"race2-{run}@%h", "--loglevel", "WARNING"],
    }  # fmt: skip
    started = {
        name: subprocess.Popen(  # the project's own commands
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for name, argv in commands.items()
    }
    outputs: dict[str, str] = {}

    def stop() -> dict[str, str]:
        for process in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in started.items():
            if name in outputs:
                continue
            try:
                out, _ = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, _ = process.communicate()
            outputs[name] = out
        return outputs

    def wait_ready() -> None:
        """Until both relays poll the database (each holds a connection to it)."""

        def others() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                return cursor.fetchone()[0]

        wait_for(lambda: others() >= 2, timeout=60, interval=0.2)

    try:
        yield {
            "topic_prefix": topic_prefix,
            "bootstrap": kafka_bootstrap,
            "stop": stop,
            "wait_ready": wait_ready,
        }
    finally:
        stop()
        from config.celery import app

        with app.connection_for_write() as conn:
            channel = conn.default_channel
            for queue in queues.split(","):
                for name in (queue, f"{queue}.dlq"):
                    channel.queue_delete(name)


def _expected_notifications() -> set[tuple[str, str]]:
    expected = set()
    for event in OutboxEvent.objects.all():
        for message in messages_for(event.type, event.payload):
            expected |= {(str(event.id), str(recipient)) for recipient in message.recipient_ids}
    return expected


def _delivered() -> bool:
    return (
        not OutboxEvent.objects.filter(published_at=None).exists()
        and not PendingTask.objects.exists()
        and Notification.objects.count() >= len(_expected_notifications())
    )


def confirm(order: Any) -> None:
    order_transition(order_id=order.pk, to="confirmed", actor=order.shop.owner, actor_role="seller")


def test_two_relays_and_two_workers_keep_key_order_and_exactly_once(processes: dict) -> None:
    # Given: buyers and stock
    buyers = [UserFactory() for _ in range(3)]
    variants = [stocked_variant(on_hand=100) for _ in range(4)]

    processes["wait_ready"]()

    # When: a burst of orders is placed, confirmed and shipped, the steps of different orders
    # interleaved and spread over a few seconds (so that each relay run finds some and the lease
    # changes hands), while the relays and workers run
    orders = []
    for number in range(ORDERS):
        checkout = place(buyers[number % 3], (variants[number % 4], 1))
        orders.extend(checkout.orders.all())
        if number >= 2:
            confirm(orders[number - 2])
        time.sleep(0.3)
    for order in orders[-2:]:
        confirm(order)
    for order in orders:
        order_transition(
            order_id=order.pk,
            to="shipped",
            actor=order.shop.owner,
            actor_role="seller",
            tracking_number=f"T-{order.number}",
        )

    deadline = time.monotonic() + 90
    while not _delivered():
        assert time.monotonic() < deadline, "the processes did not deliver the burst in 90 s"
        time.sleep(0.25)

    # Then: every event was published once to Kafka, in outbox order per aggregate key
    events = {str(e.id): e for e in OutboxEvent.objects.all()}
    records = []
    for topic in {e.topic for e in events.values()}:
        records += kafka_read(
            processes["bootstrap"], f"{processes['topic_prefix']}{topic}", at_least=1
        )
    received = [record.value["event_id"] for record in records]
    assert sorted(received) == sorted(events)  # each event exactly once
    per_key: dict[str, list[int]] = defaultdict(list)
    for record in records:  # kafka_read returns each partition in offset order
        per_key[record.key or ""].append(events[record.value["event_id"]].seq)
    assert all(seqs == sorted(seqs) for seqs in per_key.values())
    assert any(len(seqs) >= 3 for seqs in per_key.values())  # placed, confirmed, shipped

    # And: each event's notifications exist exactly once (the workers ran every task)
    made = set(Notification.objects.values_list("event_id", "recipient_id"))
    assert {(str(e), str(r)) for e, r in made} == _expected_notifications()
    assert Notification.objects.count() == len(made)

    # And: the two relays together marked each event published once; both took part
    outputs = processes["stop"]()
    relayed = [
        int(re.search(r"relayed (\d+) event", outputs[name]).group(1))  # type: ignore[union-attr]
        for name in ("relay-1", "relay-2")
    ]
    assert sum(relayed) == len(events), outputs
    assert min(relayed) > 0, relayed
