"""Webhook metrics (attempts by outcome, the backlog at scrape time), the admin's screens and
actions, and the owner of a platform endpoint being told when it is disabled."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.events import emit
from apps.notifications.models import Notification
from apps.webhooks.metrics import delivery_backlog
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.users.factories import UserFactory
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.factories import delivery_row, endpoint_row

pytestmark = pytest.mark.django_db


def attempts(outcome):
    return (
        REGISTRY.get_sample_value(
            "marketplace_webhook_delivery_attempts_total", {"outcome": outcome}
        )
        or 0.0
    )


def test_attempts_are_counted_by_outcome(
    receiver, seller, shop, django_capture_on_commit_callbacks
):
    endpoint_for(seller, receiver.url(), ["stock.low"])
    receiver.answer(500)
    errors, successes = attempts("http_error"), attempts("succeeded")

    with django_capture_on_commit_callbacks(execute=True):
        emit("stock.low", "v", {"shop_id": str(shop.pk)})
    with django_capture_on_commit_callbacks(execute=True):
        emit("stock.low", "v", {"shop_id": str(shop.pk)})

    assert attempts("http_error") == errors + 1
    assert attempts("succeeded") == successes + 1


def test_the_backlog_is_the_pending_count_and_the_lateness_of_the_oldest_due():
    endpoint = endpoint_row()
    now = timezone.now()
    delivery_row(endpoint=endpoint)  # failed: not in the backlog
    for due in (now - timedelta(seconds=40), now + timedelta(minutes=5)):
        WebhookDelivery.objects.filter(
            pk=delivery_row(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).pk
        ).update(next_attempt_at=due)

    pending, late = (family.samples[0].value for family in delivery_backlog())

    assert pending == 2
    assert 40 <= late < 90


def test_the_backlog_is_zero_when_nothing_waits():
    pending, late = (family.samples[0].value for family in delivery_backlog())
    assert (pending, late) == (0, 0.0)


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_never_shows_secrets_and_shows_request_and_response_excerpts(admin_client):
    delivery = delivery_row()
    endpoint = delivery.endpoint

    page = admin_client.get(
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert endpoint.url in page
    assert endpoint.secret not in page
    page = admin_client.get(
        reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert str(delivery.event_id) in page  # the request body excerpt
    assert "{&quot;error&quot;: &quot;down&quot;}" in page  # the response excerpt


def test_admin_actions_disable_enable_and_retry(admin_client):
    delivery = delivery_row()
    endpoint = delivery.endpoint
    changelist = reverse("admin:webhooks_webhookendpoint_changelist")

    admin_client.post(changelist, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "manual")

    retry = {"action": "retry", "_selected_action": [delivery.pk]}
    deliveries = reverse("admin:webhooks_webhookdelivery_changelist")
    admin_client.post(deliveries, retry)
    delivery.refresh_from_db()
    assert delivery.status == "failed"  # skipped: the endpoint is disabled

    admin_client.post(changelist, {"action": "enable", "_selected_action": [endpoint.pk]})
    admin_client.post(deliveries, retry)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.lock_token is not None) == ("pending", True)  # queued


def test_a_disabled_platform_endpoint_tells_the_staff_member_who_registered_it(
    receiver, staff_user, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(staff_user, receiver.url(), ["payment.failed"])
    receiver.answer(410)

    with django_capture_on_commit_callbacks(execute=True):
        emit("payment.failed", "p", {"payment_id": "p", "reason": "declined"})

    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    (notification,) = Notification.objects.all()
    assert (notification.recipient, notification.type) == (staff_user, "webhook.disabled")
