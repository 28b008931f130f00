from typing import Any


def enqueue_notify(envelope: dict[str, Any]) -> None:
    """Event subscriber: the relay calls it after commit; the work happens on the worker."""
    from apps.notifications.tasks import notify_event

    notify_event.delay(envelope)
