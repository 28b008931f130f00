"""relay_events, prune_events and the outbox admin."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.events.models import OutboxEvent
from tests.brokers import wait_for
from tests.services import need_postgres
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _event(**fields) -> OutboxEvent:
    return OutboxEvent.objects.create(
        **{"topic": "orders", "key": "order-1", "type": "order.placed", **fields}
    )


def test_relay_events_once_delivers_what_is_pending(event_subscribers):
    got = []
    event_subscribers("order.placed", got.append)
    _event(key="a")
    _event(key="b")
    out = io.StringIO()
    call_command("relay_events", "--once", stdout=out)
    assert out.getvalue().startswith("relayed 2 event(s)")
    assert [e["key"] for e in got] == ["a", "b"]
    assert not OutboxEvent.objects.filter(published_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_relay_events_runs_until_sigterm_and_exits_cleanly(event_subscribers):
    need_postgres()
    for key in ("a", "b", "c"):
        _event(key=key)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "KAFKA_BOOTSTRAP_SERVERS": "",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events", "--interval", "0.2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: not OutboxEvent.objects.filter(published_at=None).exists(), timeout=30)
        _event(key="d")  # the loop keeps polling
        wait_for(lambda: not OutboxEvent.objects.filter(published_at=None).exists(), timeout=10)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "finishing the current batch" in err
    assert out.startswith("relayed 4 event(s)")


def test_prune_events_deletes_only_old_published_events():
    now = timezone.now()
    old = _event(published_at=now - timedelta(days=10))
    recent = _event(published_at=now - timedelta(days=1))
    old_pending = _event(occurred_at=now - timedelta(days=30))
    out = io.StringIO()
    call_command("prune_events", "--days", "7", stdout=out)
    assert "deleted 1 published event(s) older than 7 day(s)" in out.getvalue()
    remaining = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, old_pending.pk}
    assert old.pk not in remaining
    with pytest.raises(CommandError):
        call_command("prune_events", "--days", "-1")


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_outbox_admin_filters_by_type_state_failure_and_key(admin_client_):
    now = timezone.now()
    published = _event(key="order-pub", published_at=now)
    pending = _event(key="order-pending")
    failed = _event(key="order-failed", attempts=2, last_error="kafka: timed out")
    stock = _event(key="sku-1", type="stock.adjusted", topic="inventory", published_at=now)
    url = reverse("admin:events_outboxevent_changelist")

    def listed(query: str) -> set[str]:
        response = admin_client_.get(f"{url}?{query}")
        assert response.status_code == 200
        keys = {e.key for e in (published, pending, failed, stock)}
        return {key for key in keys if f">{key}<" in response.content.decode()}

    assert listed("") == {"order-pub", "order-pending", "order-failed", "sku-1"}
    assert listed("published=no") == {"order-pending", "order-failed"}
    assert listed("published=yes") == {"order-pub", "sku-1"}
    assert listed("failed=yes") == {"order-failed"}
    assert listed("type__exact=stock.adjusted") == {"sku-1"}
    assert listed("q=order-pub") == {"order-pub"}


def test_outbox_admin_republish_action_delivers_again(
    admin_client_, event_subscribers, django_capture_on_commit_callbacks
):
    got = []
    event_subscribers("order.placed", got.append)
    event = _event(published_at=timezone.now() - timedelta(hours=1), attempts=1, last_error="x")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:events_outboxevent_changelist"),
            {"action": "republish", "_selected_action": [event.pk]},
        )
    assert response.status_code == 302
    event.refresh_from_db()
    assert [e["event_id"] for e in got] == [str(event.id)]
    assert event.published_at > timezone.now() - timedelta(minutes=1)
    assert event.attempts == 0
    assert event.last_error == ""


def test_outbox_admin_is_read_only_and_staff_only(admin_client_):
    event = _event()
    change = reverse("admin:events_outboxevent_change", args=[event.pk])
    assert admin_client_.get(reverse("admin:events_outboxevent_add")).status_code == 403
    assert admin_client_.post(change, {"key": "forged"}).status_code == 403
    event.refresh_from_db()
    assert event.key == "order-1"
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))  # no model permissions
    assert staff.get(reverse("admin:events_outboxevent_changelist")).status_code == 403
    anonymous = Client().get(reverse("admin:events_outboxevent_changelist"))
    assert anonymous.status_code == 302
