from datetime import timedelta
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from apps.notifications.models import EmailDelivery, NotificationType
from apps.notifications.services import EMAIL_CLAIM_SECONDS
from apps.notifications.tasks import render_email, send_notification_email
from tests.notifications.factories import NotificationFactory

pytestmark = pytest.mark.django_db

DATA = {
    "order_id": "o1",
    "number": "ORD-7",
    "total": "12.50",
    "currency": "USD",
    "tracking_number": "TRK9",
    "sku": "SKU-1",
    "available": 2,
    "threshold": 5,
    "rating": 5,
    "name": "Desk lamp",
    "slug": "desk-lamp",
    "price": "20.00",
    "code": "SAVE10",
    "product_id": "p1",
    "comment_id": "c1",
    "shop_id": "s1",
}


# Types whose HTML template shows the notification body (the others show data fields instead).
BODY_IN_HTML = {
    "order.placed",
    "order.status_changed",
    "order.cancelled",
    "shop.new_discount",
    "shop.followed",
    "comment.reply",
    "announcement",
}


@pytest.mark.parametrize("type_", NotificationType.values)
def test_every_type_renders_text_and_html_from_its_template(type_):
    notification = NotificationFactory(
        type=type_, title="Hello there", body="Body <b>x</b>", data=DATA
    )
    subject, text, html = render_email(notification)
    assert subject == "[Marketplace] Hello there"
    assert "Marketplace" in text
    assert "<html>" in html
    assert "<b>x</b>" not in html  # escaped in HTML
    assert "Body &lt;b&gt;x&lt;/b&gt;" in html or type_ not in BODY_IN_HTML
    promotional = type_ in ("shop.new_product", "shop.new_discount")
    assert ("Unsubscribe" in text) is promotional
    assert ("Unsubscribe" in html) is promotional


def test_email_is_sent_once_even_when_the_task_runs_twice():
    notification = NotificationFactory(type="order.placed", data=DATA)
    assert send_notification_email(str(notification.pk)) is True
    assert send_notification_email(str(notification.pk)) is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [notification.recipient.email]
    assert EmailDelivery.objects.get(notification=notification).attempts == 1


@override_settings(EMAIL_BACKEND="tests.notifications.test_email.FailingBackend")
def test_email_failure_is_recorded_and_raised_for_retry():
    notification = NotificationFactory(type="order.placed", data=DATA)
    with pytest.raises(ConnectionError):
        send_notification_email.run(str(notification.pk))
    delivery = EmailDelivery.objects.get(notification=notification)
    assert (delivery.sent_at, delivery.claimed_at) == (None, None)  # the retry may send it
    assert delivery.attempts == 1
    assert "smtp down" in delivery.last_error


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("smtp down")


def test_the_email_carries_a_message_id_of_its_notification(settings):
    settings.EMAIL_DOMAIN = "shop.example"
    notification = NotificationFactory(type="order.placed", data=DATA)

    send_notification_email(str(notification.pk))

    assert mail.outbox[0].extra_headers["Message-ID"] == (
        f"<notification-{notification.pk}@shop.example>"
    )


def test_a_fresh_claim_of_another_run_sends_nothing():
    notification = NotificationFactory(type="order.placed", data=DATA)
    EmailDelivery.objects.create(notification=notification, claimed_at=timezone.now(), attempts=1)

    # run as the embedded default runs it (eagerly): nothing to wait for in-process
    assert send_notification_email.apply(args=[str(notification.pk)]).get() is False

    assert mail.outbox == []
    delivery = EmailDelivery.objects.get(notification=notification)
    assert (delivery.sent_at, delivery.attempts) == (None, 1)


def test_a_busy_claim_is_retried_once_it_could_have_been_abandoned():
    """Run by a worker (not eagerly), a run that finds another's fresh claim asks for a retry
    after the claim's lifetime: if that run died mid-send, the retry takes the claim over."""
    notification = NotificationFactory(type="order.placed", data=DATA)
    EmailDelivery.objects.create(notification=notification, claimed_at=timezone.now(), attempts=1)
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    send_notification_email.push_request(id="worker-run", is_eager=False, retries=0)
    try:
        with patch.object(send_notification_email, "retry", retry), pytest.raises(Retry):
            send_notification_email.run(str(notification.pk))
    finally:
        send_notification_email.pop_request()

    assert retries == [{"countdown": EMAIL_CLAIM_SECONDS}]
    assert mail.outbox == []


def test_an_abandoned_claim_is_taken_over_and_the_email_sent():
    notification = NotificationFactory(type="order.placed", data=DATA)
    EmailDelivery.objects.create(
        notification=notification,
        claimed_at=timezone.now() - timedelta(seconds=EMAIL_CLAIM_SECONDS + 1),
        attempts=1,
    )

    assert send_notification_email(str(notification.pk)) is True

    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get(notification=notification)
    assert delivery.sent_at is not None
    assert (delivery.claimed_at, delivery.attempts) == (None, 2)


def test_a_redelivered_task_takes_over_the_claim_of_the_run_that_died():
    """RabbitMQ redelivers a late-acked message when the worker running it was lost: that run
    died holding the claim, so the redelivered run sends at once instead of waiting it out."""
    notification = NotificationFactory(type="order.placed", data=DATA)
    EmailDelivery.objects.create(notification=notification, claimed_at=timezone.now(), attempts=1)

    send_notification_email.push_request(
        id="redelivered", is_eager=False, retries=0, delivery_info={"redelivered": True}
    )
    try:
        assert send_notification_email.run(str(notification.pk)) is True
    finally:
        send_notification_email.pop_request()

    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get(notification=notification)
    assert delivery.sent_at is not None
    assert delivery.attempts == 2
