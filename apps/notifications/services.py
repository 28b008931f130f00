import enum
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from apps.events.task_outbox import task_enqueue, tasks_enqueue
from apps.notifications.errors import NotificationNotFound
from apps.notifications.models import (
    PROMOTIONAL_TYPES,
    Channel,
    EmailDelivery,
    Notification,
    NotificationPreference,
    NotificationType,
)
from apps.notifications.realtime import publish


def preference_default(type_: str, channel: str) -> bool:
    return not (channel == Channel.EMAIL and type_ in PROMOTIONAL_TYPES)


def preferences_for(user_ids: Sequence[Any], type_: str) -> dict[tuple[str, str], bool]:
    """{(user_id, channel): enabled} for the explicit choices of these users (one query)."""
    rows = NotificationPreference.objects.filter(user_id__in=user_ids, type=type_).values_list(
        "user_id", "channel", "enabled"
    )
    return {(str(user_id), channel): enabled for user_id, channel, enabled in rows}


def _wants(prefs: dict[tuple[str, str], bool], user_id: str, type_: str, channel: str) -> bool:
    return prefs.get((user_id, channel), preference_default(type_, channel))


def unread_count_key(user_id: object) -> str:
    return f"notifications:unread:{user_id}"


def notification_to_payload(notification: Notification) -> dict[str, Any]:
    return {
        "id": str(notification.id),
        "type": notification.type,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


@transaction.atomic
def notifications_deliver(
    *,
    event_id: uuid.UUID | str,
    type: str,
    title: str,
    body: str,
    data: dict[str, Any],
    recipient_ids: Iterable[Any],
) -> list[Notification]:
    """Create one notification per recipient for this event, honouring preferences.

    Idempotent per (event_id, recipient): a redelivered event creates, mails and pushes nothing
    new. Returns the notifications created by this call. E-mails and real-time pushes are sent
    after commit.
    """
    from apps.notifications.tasks import send_notification_email

    recipients = list(dict.fromkeys(str(r) for r in recipient_ids))
    if not recipients:
        return []
    prefs = preferences_for(recipients, type)
    candidates = [
        Notification(
            id=uuid.uuid4(),
            recipient_id=r,
            type=type,
            title=title[:200],
            body=body,
            data=data,
            event_id=event_id,
            in_app=_wants(prefs, r, type, Channel.IN_APP),
        )
        for r in recipients
        if _wants(prefs, r, type, Channel.IN_APP) or _wants(prefs, r, type, Channel.EMAIL)
    ]
    Notification.objects.bulk_create(candidates, ignore_conflicts=True, batch_size=1000)
    # ignore_conflicts leaves no trace of which rows were new: ours are those whose ids exist.
    created = list(
        Notification.objects.filter(id__in=[n.id for n in candidates]).order_by("created_at")
    )
    to_email = [n.id for n in created if _wants(prefs, str(n.recipient_id), type, Channel.EMAIL)]
    visible = [n for n in created if n.in_app]

    tasks_enqueue(send_notification_email, [{"notification_id": str(i)} for i in to_email])

    def after_commit() -> None:
        cache.delete_many([unread_count_key(n.recipient_id) for n in visible])
        for notification in visible:
            publish(notification.recipient_id, notification_to_payload(notification))

    # robust: a failed push is logged (a stream recovers it with Last-Event-ID).
    transaction.on_commit(after_commit, robust=True)
    return created


# How long a send may take before another run may claim the e-mail again (a run that died
# mid-send leaves its claim behind). Longer than EMAIL_TIMEOUT, the SMTP connection's bound.
EMAIL_CLAIM_SECONDS = 120
# Waits before retrying to mark a sent e-mail when the database is unreachable (a restart):
# the e-mail is gone already, only the record of it is missing.
MARK_SENT_RETRY_SECONDS = (0.5, 1, 2, 4, 8, 15)


class EmailClaim(enum.Enum):
    CLAIMED = "claimed"  # this run sends it
    SENT = "sent"  # nothing to do
    BUSY = "busy"  # another run holds a fresh claim: try again after EMAIL_CLAIM_SECONDS


def email_claim(*, notification_id: Any, take_over: bool = False) -> EmailClaim:
    """Claim the e-mail of one notification for sending, in a statement of its own (committed
    before the message goes out). A claim older than `EMAIL_CLAIM_SECONDS` was abandoned by a run
    that died, and is taken over; so is any claim with `take_over` (the caller knows the run
    that made it died: its task message came back after its worker was lost)."""
    EmailDelivery.objects.get_or_create(notification_id=notification_id)
    unsent = EmailDelivery.objects.filter(notification_id=notification_id, sent_at=None)
    if not take_over:
        abandoned = ExpressionWrapper(
            Now() - timedelta(seconds=EMAIL_CLAIM_SECONDS), output_field=DateTimeField()
        )
        unsent = unsent.filter(Q(claimed_at=None) | Q(claimed_at__lt=abandoned))
    claimed = unsent.update(claimed_at=Now(), attempts=F("attempts") + 1)
    if claimed:
        return EmailClaim.CLAIMED
    sent = EmailDelivery.objects.filter(notification_id=notification_id, sent_at__isnull=False)
    return EmailClaim.SENT if sent.exists() else EmailClaim.BUSY


def email_release(*, notification_id: Any, error: Exception) -> None:
    """The send failed: drop the claim so that the task's retry may send it."""
    EmailDelivery.objects.filter(notification_id=notification_id, sent_at=None).update(
        claimed_at=None, last_error=str(error)[:2000]
    )


def email_mark_sent(*, notification_id: Any) -> None:
    """Record a sent e-mail. The SMTP server has it already, so a database that is unreachable
    for a moment (a restart) is waited for rather than let a retry send the e-mail again."""
    for wait in (*MARK_SENT_RETRY_SECONDS, None):
        try:
            EmailDelivery.objects.filter(notification_id=notification_id).update(
                sent_at=Now(), claimed_at=None, last_error=""
            )
            return
        except DatabaseError:
            if wait is None:
                raise
            connection.close()
            time.sleep(wait)


def notification_feed(*, user: Any, unread: bool = False, type: str | None = None) -> QuerySet:
    qs = Notification.objects.filter(recipient=user, in_app=True)
    if unread:
        qs = qs.filter(read_at=None)
    if type:
        qs = qs.filter(type=type)
    return qs


def notification_unread_count(*, user: Any) -> int:
    key = unread_count_key(user.pk)
    count = cache.get(key)
    if count is None:
        count = notification_feed(user=user, unread=True).count()
        cache.set(key, count, 300)
    return count


def notification_mark_read(*, user: Any, notification_id: Any) -> Notification:
    notification = Notification.objects.filter(
        recipient=user, in_app=True, pk=notification_id
    ).first()
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at=None).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
        cache.delete(unread_count_key(user.pk))
    return notification


def notification_mark_all_read(*, user: Any) -> int:
    updated = Notification.objects.filter(recipient=user, in_app=True, read_at=None).update(
        read_at=timezone.now()
    )
    cache.delete(unread_count_key(user.pk))
    return updated


def preferences_list(*, user: Any) -> list[dict[str, Any]]:
    explicit = {
        (p.type, p.channel): p.enabled for p in NotificationPreference.objects.filter(user=user)
    }
    return [
        {
            "type": type_.value,
            "channel": channel.value,
            "enabled": explicit.get(
                (type_.value, channel.value), preference_default(type_.value, channel.value)
            ),
        }
        for type_ in NotificationType
        for channel in Channel
    ]


def preferences_update(*, user: Any, changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record explicit choices in one upsert statement; each (type, channel) at most once in
    `changes` (the input serializer refuses repeats, which one statement could not apply)."""
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(
                user=user, type=change["type"], channel=change["channel"], enabled=change["enabled"]
            )
            for change in changes
        ],
        update_conflicts=True,
        unique_fields=["user", "type", "channel"],
        update_fields=["enabled", "updated_at"],
    )
    return preferences_list(user=user)


def announcement_send(*, announcement: Any) -> bool:
    """Queue the announcement for every active user, once (the announcement id is the event id)."""
    from apps.notifications.models import Announcement
    from apps.notifications.tasks import notify_audience_chunk

    claimed = Announcement.objects.filter(pk=announcement.pk, sent_at=None).update(
        sent_at=timezone.now()
    )
    if not claimed:
        return False
    task_enqueue(
        notify_audience_chunk,
        event_id=str(announcement.pk),
        type=NotificationType.ANNOUNCEMENT,
        title=announcement.title,
        body=announcement.body,
        data={},
        shop_id=None,
    )
    return True
