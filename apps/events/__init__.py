"""Transactional outbox. `emit()` in a service; `subscribe()` in AppConfig.ready()."""

from typing import Any


def emit(type: str, key: object, data: dict[str, Any], *, version: int = 1) -> Any:
    from apps.events.services import event_emit

    return event_emit(type=type, key=str(key), data=data, version=version)


def subscribe(event_type: str, handler: Any) -> None:
    from apps.events.registry import subscribe as _subscribe

    _subscribe(event_type, handler)
