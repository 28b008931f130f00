"""Thin tasks on the `notifications` queue. All are idempotent."""

import logging
from typing import Any

from celery import Task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from apps.events.task_outbox import task_enqueue
from apps.notifications import rules
from apps.notifications.models import PROMOTIONAL_TYPES, Notification
from apps.notifications.services import (
    EMAIL_CLAIM_SECONDS,
    EmailClaim,
    email_claim,
    email_mark_sent,
    email_release,
    notifications_deliver,
)
from config.celery import RetryingTask, app

logger = logging.getLogger(__name__)

FAN_OUT_CHUNK = 1000


@app.task(base=RetryingTask, name="notifications.notify_event", ignore_result=True)
def notify_event(envelope: dict[str, Any]) -> None:
    """Turn one event into notifications; follower audiences fan out in chunk tasks."""
    for message in rules.messages_for(envelope["type"], envelope["data"]):
        if message.followers_of_shop:
            task_enqueue(
                notify_audience_chunk,
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
        task_enqueue(
            notify_audience_chunk,
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


@app.task(
    base=RetryingTask, bind=True, name="notifications.send_notification_email", ignore_result=True
)
def send_notification_email(self: Task, notification_id: str) -> bool:
    """Send the email of one notification once.

    The delivery is claimed (committed) before the message goes out and marked sent after
    (`email_claim`): a retry after a success and a concurrent run send nothing; a run that finds
    a fresh claim of another tries again once the claim could have been abandoned; a failed send
    drops the claim and raises for the task's retry. A message that RabbitMQ redelivers came back
    because the worker running it was lost (late acks), so its claim is taken over at once. Only
    a process killed between the SMTP server's acceptance and the mark can send it twice, then
    with the same Message-ID."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    claim = email_claim(notification_id=notification_id, take_over=redelivered)
    if claim is EmailClaim.SENT:
        return False
    if claim is EmailClaim.BUSY:
        if self.request.is_eager:
            return False
        raise self.retry(countdown=EMAIL_CLAIM_SECONDS)
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    subject, text, html = render_email(notification)
    message = EmailMultiAlternatives(
        subject,
        text,
        to=[notification.recipient.email],
        headers={"Message-ID": f"<notification-{notification_id}@{settings.EMAIL_DOMAIN}>"},
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as exc:
        email_release(notification_id=notification_id, error=exc)
        logger.warning("email for notification %s failed: %s", notification_id, exc)
        raise
    email_mark_sent(notification_id=notification_id)
    return True
