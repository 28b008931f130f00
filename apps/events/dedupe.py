"""Consumer-side dedupe on event_id: delivery is at least once, effects happen once."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from apps.events.models import ProcessedEvent


def event_claim(*, consumer: str, event_id: str | UUID) -> bool:
    """Record that `consumer` handles `event_id`; False if it already did.

    Call inside the transaction that does the work, so the record commits (or rolls back) with it.
    """
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(consumer=consumer, event_id=event_id)
    except IntegrityError:
        return False
    return True


def idempotent_handler(consumer: str) -> Callable:
    """Decorate a subscriber (or any function taking the envelope) to run once per event_id.

        @idempotent_handler("notifications.order_placed")
        def on_order_placed(event: dict) -> None: ...

    The claim and the handler's writes share one transaction: if the handler raises, the claim
    rolls back too and a redelivery runs it again. A second delivery returns None at once.
    """

    def decorate(handler: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        @wraps(handler)
        def run_once(event: dict[str, Any]) -> Any:
            with transaction.atomic():
                if not event_claim(consumer=consumer, event_id=event["event_id"]):
                    return None
                return handler(event)

        return run_once

    return decorate
