"""The event envelope: what subscribers receive and (without `key`) what Kafka carries."""

from typing import Any

from apps.events.models import OutboxEvent


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """What in-process subscribers receive."""
    return {
        "event_id": str(event.id),
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "key": event.key,
        "data": event.payload,
    }


def kafka_value(event: OutboxEvent) -> dict[str, Any]:
    """The Kafka message value (docs/api.md, "Events"); the key travels as the message key."""
    return {
        "event_id": str(event.id),
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.payload,
    }
