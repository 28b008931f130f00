"""Nothing is lost: an event committed while RabbitMQ is down is delivered once it is back, and a
sender killed mid-delivery is followed by another attempt with the same `webhook-id`.

The process that loses its broker or is killed is a real second process (a `python` child on
the test database); the receiver is a real HTTP server on the loopback, the broker a real
RabbitMQ with a real worker."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.events.models import OutboxEvent, PendingTask
from apps.events.relay import relay_run
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery
from tests.brokers import wait_for
from tests.webhooks.conftest import PORTS, endpoint_for

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A port of this suite's range where nothing listens (the broker that is down)."""
    for port in PORTS[-100:]:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no closed port")


def child(script: str, **env: str) -> subprocess.Popen:
    """A Python process on the test database running `script` after django.setup()."""
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    code = "import django\ndjango.setup()\n" + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "WEBHOOKS_ALLOW_LOOPBACK": "true",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.integration
def test_an_event_committed_while_rabbitmq_is_down_is_delivered_once_it_is_back(
    celery_worker_real, receiver, seller, shop
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])

    # The API process, with its broker down: the event commits, the relay hands it to the
    # webhooks subscriber, and the delivery task cannot reach RabbitMQ.
    process = child(
        f"""
        from django.db import transaction
        from apps.events import emit
        from apps.events.relay import relay_run
        from config.celery import app
        app.conf.task_always_eager = False
        with transaction.atomic():
            emit("stock.low", "v-1", {{"shop_id": "{shop.pk}", "sku": "SKU-1"}})
        relay_run()
        """,
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//",
    )
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output

    event = OutboxEvent.objects.get(type="stock.low")
    assert event.published_at is not None  # the relay's part is done
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint_id, delivery.status, delivery.attempts) == (
        endpoint.pk,
        "pending",
        0,
    )
    # Its task waits in the task outbox (beside the notifications' own).
    assert PendingTask.objects.filter(name="webhooks.deliver").count() == 1
    assert receiver.requests == []

    # RabbitMQ is back: the relay's next pass sends the waiting task; the worker delivers.
    relay_run()
    wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=30)

    (received,) = receiver.requests
    body = Webhook(endpoint.secret).verify(received.body, received.headers)
    assert (body["event_id"], body["data"]["sku"]) == (str(event.id), "SKU-1")
    assert not PendingTask.objects.filter(name="webhooks.deliver").exists()
    assert WebhookDelivery.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_delivery_loses_nothing_and_repeats_the_same_webhook_id(
    receiver, seller
):
    endpoint = endpoint_for(seller, receiver.url(), ["stock.low"])
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="7c4a0a52-9d1e-4c8b-a7f3-2f6f3d1e9b10",
        event_type="stock.low",
        payload={"event_id": "7c4a0a52-9d1e-4c8b-a7f3-2f6f3d1e9b10", "type": "stock.low"},
        next_attempt_at=now,
        expires_at=now + timedelta(days=3),
    )
    receiver.answer(200, delay=30.0)  # the receiver takes its time: the sender is killed first

    sender = child(
        f"""
        from apps.webhooks.services import delivery_attempt
        delivery_attempt(delivery_id="{delivery.pk}")
        """
    )
    try:
        wait_for(lambda: receiver.requests, timeout=60)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.communicate(timeout=30)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.locked_until > timezone.now()  # held by the dead sender's claim...
    assert services.deliveries_due_enqueue() == 0  # ...so not sent again yet

    # The claim runs out (the attempt's timeout plus a margin); the sweep sends it again.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert services.deliveries_due_enqueue() == 1  # eager here: attempted at once

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    assert WebhookDelivery.objects.count() == 1
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.event_id)] * 2
