"""In-process subscribers, registered in AppConfig.ready()."""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)

TOPICS = {
    "order": "orders",
    "stock": "inventory",
    "product": "catalog",
    "review": "reviews",
    "comment": "reviews",
    "shop": "shops",
    "media": "media",
    "payment": "payments",
    "payout": "payments",
    "webhook": "webhooks",
}


def topic_for(event_type: str) -> str:
    return TOPICS.get(event_type.split(".", 1)[0], "misc")


def subscribe(event_type: str, handler: Handler) -> None:
    """Register `handler(envelope)` for an event type; `"*"` receives every event."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def handlers_for(event_type: str) -> list[Handler]:
    return [*_subscribers.get(event_type, ()), *_subscribers.get("*", ())]


def unsubscribe(event_type: str, handler: Handler) -> None:
    if handler in _subscribers.get(event_type, ()):
        _subscribers[event_type].remove(handler)
