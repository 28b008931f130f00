"""Minimal in-process delivery until the full relay lands (issue 3 replaces this)."""

from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.events.registry import handlers_for


def envelope(event: OutboxEvent) -> dict:
    return {
        "event_id": str(event.id),
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "key": event.key,
        "data": event.payload,
    }


def relay_pending(limit: int = 500) -> int:
    events = list(OutboxEvent.objects.filter(published_at=None).order_by("seq")[:limit])
    for event in events:
        for handler in handlers_for(event.type):
            handler(envelope(event))
        OutboxEvent.objects.filter(pk=event.pk).update(published_at=timezone.now())
    return len(events)
