from typing import Any

from django.db import transaction

from apps.events.models import OutboxEvent
from apps.events.registry import topic_for


def event_emit(*, type: str, key: str, data: dict[str, Any], version: int = 1) -> OutboxEvent:
    """Write the event in the caller's transaction; the relay delivers it after commit.

    Nothing is written if the caller's transaction rolls back.
    """
    from apps.events.relay import schedule_relay

    event = OutboxEvent.objects.create(
        topic=topic_for(type), key=key, type=type, version=version, payload=data
    )
    transaction.on_commit(schedule_relay)
    return event
