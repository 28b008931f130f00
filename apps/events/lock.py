"""A Redis lock with an owner token, an expiry and compare-and-delete release.

The relay takes it so that only one process publishes at a time (which is what keeps per-key
order). Expiry frees it if the holder dies; `extend()` keeps it while a long run is healthy.
"""

import logging
import secrets
import threading
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Delete / extend only if the caller still owns the lock (never another owner's lock).
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def lock_key(name: str) -> str:
    """Namespaced like the cache, so test runs sharing a Redis server never contend."""
    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX", "")
    return f"{prefix}:lock:{name}" if prefix else f"lock:{name}"


class RedisLock:
    def __init__(self, name: str, *, ttl_seconds: float) -> None:
        self.key = lock_key(name)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = secrets.token_hex(16)
        self._local: threading.Lock | None = None

    def acquire(self) -> bool:
        """Try once, without waiting. True when this instance now owns the lock."""
        try:
            return bool(
                _client(settings.REDIS_URL).set(self.key, self.token, nx=True, px=self.ttl_ms)
            )
        except redis.RedisError as exc:
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                # Several processes may be running: without the lock, waiting is the safe choice.
                logger.warning("relay lock unavailable (Redis: %s); not relaying", exc)
                return False
            # Embedded default (one process, no Redis): a process-local lock is enough.
            with _local_guard:
                local = _local_locks.setdefault(self.key, threading.Lock())
            if local.acquire(blocking=False):
                self._local = local
                return True
            return False

    def extend(self) -> bool:
        if self._local is not None:
            return True
        try:
            client = _client(settings.REDIS_URL)
            return bool(client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))
        except redis.RedisError:
            return False

    def release(self) -> None:
        if self._local is not None:
            self._local.release()
            self._local = None
            return
        try:
            _client(settings.REDIS_URL).eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:  # it expires on its own
            logger.warning("could not release %s: %s", self.key, exc)
