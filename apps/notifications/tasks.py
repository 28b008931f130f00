"""Thin tasks on the `notifications` queue. All are idempotent."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from apps.notifications import rules
from apps.notifications.models import PROMOTIONAL_TYPES, EmailDelivery, Notification
from apps.notifications.services import notifications_deliver
from config.celery import RetryingTask, app

logger = logging.getLogger(__name__)

FAN_OUT_CHUNK = 1000


@app.task(base=RetryingTask, name="notifications.notify_event", ignore_result=True)
def notify_event(envelope: dict[str, Any]) -> None:
    """Turn one event into notifications; follower audiences fan out in chunk tasks."""
    for message in rules.messages_for(envelope["type"], envelope["data"]):
        if message.followers_of_shop:
            notify_audience_chunk.delay(
                event_id=envelope["event_id"],
                type=message.type,
                title=message.title,
                body=message.body,
                data=message.data,
                shop_id=message.followers_of_shop,
            )
        else:
            notifications_deliver(
                event_id=envelope["event_id"],
                type=message.type,
                title=message.title,
                body=message.body,
                data=message.data,
                recipient_ids=message.recipient_ids,
            )


def audience_page(*, shop_id: str | None, after: str | None, limit: int) -> list[str]:
    """A keyset page of recipients: a shop's followers, or every active user (announcements)."""
    if shop_id:
        return rules.follower_ids(shop_id, after=after, limit=limit)
    users = get_user_model().objects.filter(is_active=True).order_by("id")
    if after:
        users = users.filter(id__gt=after)
    return [str(pk) for pk in users.values_list("id", flat=True)[:limit]]


@app.task(base=RetryingTask, name="notifications.notify_audience_chunk", ignore_result=True)
def notify_audience_chunk(
    *,
    event_id: str,
    type: str,
    title: str,
    body: str,
    data: dict[str, Any],
    shop_id: str | None = None,
    after: str | None = None,
) -> int:
    """Deliver to one chunk of the audience, then hand the rest to the next chunk task.

    Each task is small and bounded (one keyset page, one bulk insert), so a shop with 100,000
    followers is 100 short tasks instead of one giant one.
    """
    recipients = audience_page(shop_id=shop_id, after=after, limit=FAN_OUT_CHUNK)
    if not recipients:
        return 0
    notifications_deliver(
        event_id=event_id, type=type, title=title, body=body, data=data, recipient_ids=recipients
    )
    if len(recipients) == FAN_OUT_CHUNK:
        notify_audience_chunk.delay(
            event_id=event_id,
            type=type,
            title=title,
            body=body,
            data=data,
            shop_id=shop_id,
            after=recipients[-1],
        )
    return len(recipients)


def render_email(notification: Notification) -> tuple[str, str, str]:
    """(subject, text, html) from templates/notifications/<type>.txt|.html."""
    name = notification.type.replace(".", "_")
    context = {
        "notification": notification,
        "data": notification.data,
        "recipient": notification.recipient,
        "store_name": settings.STORE_NAME,
        "frontend_url": settings.FRONTEND_URL,
        "promotional": notification.type in PROMOTIONAL_TYPES,
        "preferences_url": f"{settings.FRONTEND_URL}/account/notifications",
    }
    subject = f"[{settings.STORE_NAME}] {notification.title}"
    text = render_to_string(f"notifications/{name}.txt", context)
    html = render_to_string(f"notifications/{name}.html", context)
    return subject, text, html


@app.task(base=RetryingTask, name="notifications.send_notification_email", ignore_result=True)
def send_notification_email(notification_id: str) -> bool:
    """Send the email of one notification once; a retry after a success sends nothing."""
    delivery, _ = EmailDelivery.objects.get_or_create(notification_id=notification_id)
    if delivery.sent_at is not None:
        return False
    failure: Exception | None = None
    with transaction.atomic():
        # The row lock makes two concurrent runs of this task send one email between them.
        delivery = EmailDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.sent_at is not None:
            return False
        notification = Notification.objects.select_related("recipient").get(pk=notification_id)
        subject, text, html = render_email(notification)
        message = EmailMultiAlternatives(subject, text, to=[notification.recipient.email])
        message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception as exc:
            failure = exc
        else:
            EmailDelivery.objects.filter(pk=delivery.pk).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
    if failure is not None:
        EmailDelivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1, last_error=str(failure)[:2000]
        )
        logger.warning("email for notification %s failed: %s", notification_id, failure)
        raise failure
    return True
