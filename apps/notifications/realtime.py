"""Real-time fan-in: new notifications are published on a per-user Redis channel for SSE streams."""

import json
import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def channel_for(user_id: object) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'mp')}:notifications:{user_id}"


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
