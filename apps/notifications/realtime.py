"""Real-time fan-in: new notifications are published on a per-user Redis channel for SSE streams."""

import json
import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


#: A message on a user's channel with this key is no notification: it asks the user's streams to
#: check that their sessions still stand (apps.notifications.stream).
CONTROL = "control"


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX", "mp")


def channel_for(user_id: object) -> str:
    return f"{_prefix()}:notifications:{user_id}"


def slots_key(user_id: object) -> str:
    """The Redis sorted set of the user's open streams."""
    return f"{_prefix()}:notifications:streams:{user_id}"


def redis_enabled() -> bool:
    return settings.CACHES["default"]["BACKEND"].startswith("django_redis")


def publish(user_id: object, payload: dict[str, Any]) -> None:
    """Best effort: a stream that misses a message recovers it with Last-Event-ID."""
    if not redis_enabled():
        return
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").publish(channel_for(user_id), json.dumps(payload))
    except Exception:  # a Redis outage must not fail the notification write
        logger.warning("could not publish notification to Redis", exc_info=True)


def streams_recheck(user_id: object) -> None:
    """Ask the user's open streams to check their sessions now (they end if it ended)."""
    publish(user_id, {CONTROL: "recheck"})


def on_sessions_ended(sender: object, *, user_id: object, **kwargs: object) -> None:
    streams_recheck(user_id)


def on_user_saved(sender: object, *, instance: Any, **kwargs: object) -> None:
    if not instance.is_active:
        streams_recheck(instance.pk)
