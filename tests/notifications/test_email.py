import pytest
from django.core import mail
from django.test import override_settings

from apps.notifications.models import EmailDelivery, NotificationType
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
    assert delivery.sent_at is None
    assert delivery.attempts == 1
    assert "smtp down" in delivery.last_error


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("smtp down")
