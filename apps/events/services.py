from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.observability import current_context
from apps.events.models import OutboxEvent
from apps.events.registry import topic_for


def event_emit(*, type: str, key: str, data: dict[str, Any], version: int = 1) -> OutboxEvent:
    """Write the event in the caller's transaction; the relay delivers it after commit.

    Nothing is written if the caller's transaction rolls back.
    """
    (event,) = event_emit_many(type=type, events=[(key, data)], version=version)
    return event


def event_emit_many(
    *, type: str, events: Sequence[tuple[str, dict[str, Any]]], version: int = 1
) -> list[OutboxEvent]:
    """`event_emit` for many events of one type (`(key, data)` each), in one INSERT (no save()
    signals; `seq` comes back and follows the order given)."""
    from apps.events.relay import schedule_relay

    if not events:
        return []
    context = current_context()
    created = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                topic=topic_for(type),
                key=key,
                type=type,
                version=version,
                payload=data,
                context=dict(context),
            )
            for key, data in events
        ]
    )
    transaction.on_commit(schedule_relay)
    return created


@transaction.atomic
def events_republish(*, event_ids: Iterable[Any]) -> int:
    """Mark events pending again (admin action); the relay re-delivers them in `seq` order.

    Consumers see the same event_id again and dedupe it; returns how many were reset.
    """
    from apps.events.relay import schedule_relay

    count = OutboxEvent.objects.filter(pk__in=list(event_ids)).update(
        published_at=None, attempts=0, last_error=""
    )
    if count:
        transaction.on_commit(schedule_relay)
    return count


def events_prune(*, older_than_days: int) -> int:
    """Delete published events older than N days (by publication time); pending ones are kept."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OutboxEvent.objects.filter(published_at__lt=cutoff).delete()
    return deleted
