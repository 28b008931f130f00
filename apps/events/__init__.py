"""Transactional outbox. `emit()` in a service; `subscribe()` in AppConfig.ready().

from apps.events import emit, idempotent_handler, subscribe
from apps.events.task_outbox import task_enqueue

emit("order.placed", order.id, {"order_id": str(order.id), ...})   # inside the transaction

@idempotent_handler("notifications.order_placed")
def on_order_placed(event: dict) -> None:   # {event_id, type, version, occurred_at, key, data}
    task_enqueue(notification_send, order_id=event["data"]["order_id"])  # durable, after commit

subscribe("order.placed", on_order_placed)
"""

from collections.abc import Callable, Iterable
from typing import Any


def emit(type: str, key: object, data: dict[str, Any], *, version: int = 1) -> Any:
    from apps.events.services import event_emit

    return event_emit(type=type, key=str(key), data=data, version=version)


def emit_many(
    type: str, events: Iterable[tuple[object, dict[str, Any]]], *, version: int = 1
) -> list[Any]:
    """`emit()` of one event type for many aggregates, `(key, data)` each, in one INSERT."""
    from apps.events.services import event_emit_many

    return event_emit_many(
        type=type, events=[(str(key), data) for key, data in events], version=version
    )


def subscribe(event_type: str, handler: Any) -> None:
    from apps.events.registry import subscribe as _subscribe

    _subscribe(event_type, handler)


def idempotent_handler(consumer: str) -> Callable:
    from apps.events.dedupe import idempotent_handler as _idempotent_handler

    return _idempotent_handler(consumer)
