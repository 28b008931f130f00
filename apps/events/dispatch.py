"""In-process delivery of one event to its subscribers.

A handler gets the envelope dict {event_id, type, version, occurred_at, key, data}. It runs in its
own transaction (savepoint) so a failing handler rolls back only its own writes. Handlers are
expected to be quick and not to fail: the usual handler enqueues a Celery task (which has its own
retries and dead-letter queue). A handler that raises is logged and recorded on the event
(`last_error`, `attempts`), and neither blocks the other handlers nor Kafka publishing: the event
is still marked published, so a failing handler is not retried by the relay.
"""

import logging
from typing import Any

from django.db import transaction

from apps.events.registry import handlers_for

logger = logging.getLogger(__name__)


def handler_name(handler: Any) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


def deliver_to_subscribers(envelope: dict[str, Any]) -> list[str]:
    """Call every handler of `envelope["type"]`; return the errors of those that raised."""
    errors = []
    for handler in handlers_for(envelope["type"]):
        try:
            with transaction.atomic():
                handler(envelope)
        except Exception as exc:
            logger.exception(
                "event handler %s failed for %s %s",
                handler_name(handler),
                envelope["type"],
                envelope["event_id"],
            )
            errors.append(f"{handler_name(handler)}: {exc!r}")
    return errors
