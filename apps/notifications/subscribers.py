from typing import Any

from apps.events.task_outbox import task_enqueue


def enqueue_notify(envelope: dict[str, Any]) -> None:
    """Event subscriber: the relay calls it in its handler transaction; the task is recorded
    there and sent after commit (never lost while RabbitMQ is down); the work happens on the
    worker."""
    from apps.notifications.tasks import notify_event

    task_enqueue(notify_event, envelope=envelope)
