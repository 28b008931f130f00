"""Read replicas: which database a query goes to (settings `DATABASE_REPLICA_URLS`).

- `ReplicaReadsMiddleware` marks a safe request (GET, HEAD, OPTIONS) to one of the public read
  paths (`REPLICA_READ_PATHS`: catalog, reviews, comments, shop pages, notification feeds) as
  replica-eligible, unless its caller is pinned to the primary. Any unsafe request pins its caller
  for `REPLICA_PIN_SECONDS` (at least `REPLICA_MAX_LAG`): a cookie for browsers, and a cache key
  per credential (Authorization, X-Api-Key, X-Cart-Token, session) for API clients without a
  cookie jar. So a caller reads its own writes.
- `ReplicaRouter` sends the reads of an eligible request to a usable replica, round robin; every
  write goes to the primary, and so does every read inside a transaction or after the request's
  first write. Everything that is not an eligible request (workers, the relay, commands, the
  admin, checkout) never sees a replica.
- A replica is usable when it answers and is at most `REPLICA_MAX_LAG` seconds behind; each
  process asks each replica at most every `REPLICA_CHECK_SECONDS`. A replica that stops answering
  between two checks is caught when a request first uses its connection, so the request falls
  back to the primary instead of failing.

Redis is an accelerator here too: when the cache cannot be read, a caller with a credential is
treated as pinned (its reads go to the primary) rather than risk showing it a state before its own
write. The only per-process state is which replicas answered lately; it decides which copy
answers, never what the answer may miss beyond the lag bound.
"""

import hashlib
import itertools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

PIN_COOKIE = "db_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Present in the cache while the cache works: a pin lookup that does not find it cannot tell
# "not pinned" from "cache lost or unreachable", and then answers "pinned".
_CACHE_ALIVE_KEY = "replicas:cache-alive"

_replica_eligible: ContextVar[bool] = ContextVar("replica_eligible", default=False)
_round_robin = itertools.count()
# alias -> (monotonic time of the check, usable)
_health: dict[str, tuple[float, bool]] = {}


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias != DEFAULT_DB_ALIAS]


def replica_lag_window() -> float:
    """How far behind the primary a read may be: REPLICA_MAX_LAG with replicas, else 0."""
    return float(settings.REPLICA_MAX_LAG) if replica_aliases() else 0.0


def pin_seconds() -> float:
    return max(float(settings.REPLICA_PIN_SECONDS), float(settings.REPLICA_MAX_LAG))


# --- health ----------

# Raw SQL: the standby's replay position and state are server functions with no ORM form.
# `lag` is 0 while the standby is streaming and has replayed all it received (an idle primary
# sends nothing, so the age of the last replayed transaction would grow without any lag); else
# it is the age of the last replayed transaction.
_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_wal_replay_paused() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
            THEN 0 END,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
"""


def replica_lag(alias: str) -> float | None:
    """Seconds the replica `alias` is behind the primary; None when it is not a standby (promoted
    or misconfigured: it may have diverged) or has replayed nothing yet. Raises DatabaseError when
    it does not answer."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_LAG_SQL)
        in_recovery, caught_up, age = cursor.fetchone()
    if not in_recovery:
        return None
    if caught_up is not None:
        return 0.0
    return None if age is None else max(float(age), 0.0)


def _check(alias: str) -> tuple[bool, str]:
    """Whether the replica is usable now, and why not."""
    try:
        lag = replica_lag(alias)
    except DatabaseError as exc:
        connections[alias].close()
        return False, str(exc)
    if lag is None:
        return False, "not replaying from a primary, or no lag known"
    if lag > settings.REPLICA_MAX_LAG:
        return False, f"{lag:.1f} s behind"
    return True, ""


def _record(alias: str, now: float, usable: bool, reason: str) -> None:
    # Logged when the state changes, not at every check (a replica down for an hour would
    # otherwise log a line per second per process).
    before = _health.get(alias)
    if usable and before is not None and not before[1]:
        logger.info("replica %s usable again", alias)
    elif not usable and (before is None or before[1]):
        logger.warning("replica %s skipped: %s", alias, reason)
    _health[alias] = (now, usable)


def _usable(alias: str) -> bool:
    now = time.monotonic()
    checked = _health.get(alias)
    if checked is None or now - checked[0] >= settings.REPLICA_CHECK_SECONDS:
        _record(alias, now, *_check(alias))
    if not _health[alias][1]:
        return False
    connection = connections[alias]
    try:
        # A persistent connection to a replica that has gone since the last check fails here,
        # not in the middle of the caller's query (Django checks it once per request).
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as exc:
        _record(alias, now, False, str(exc))
        return False
    return True


def replica_for_read() -> str:
    """A usable replica, round robin, else the primary."""
    aliases = replica_aliases()
    if not aliases:
        return DEFAULT_DB_ALIAS
    start = next(_round_robin)
    for offset in range(len(aliases)):
        alias = aliases[(start + offset) % len(aliases)]
        if _usable(alias):
            return alias
    return DEFAULT_DB_ALIAS


class ReplicaRouter:
    """Reads of a replica-eligible request outside a transaction go to a replica; everything else
    to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        if not _replica_eligible.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return replica_for_read()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        # The rest of the request reads what it wrote.
        _replica_eligible.set(False)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # replicas hold the primary's rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return None if db == DEFAULT_DB_ALIAS else False


# --- requests ----------


def _caller_key(request: HttpRequest) -> str | None:
    """A cache key for the caller's credentials, if it sent any."""
    parts = [
        request.headers.get("Authorization", ""),
        request.headers.get("X-Api-Key", ""),
        request.headers.get("X-Cart-Token", ""),
        request.COOKIES.get(settings.SESSION_COOKIE_NAME, ""),
    ]
    if not any(parts):
        return None
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
    return f"replicas:pin:{digest}"


def _pinned(request: HttpRequest) -> bool:
    if PIN_COOKIE in request.COOKIES:
        return True
    key = _caller_key(request)
    if key is None:
        return False
    found = cache.get_many([key, _CACHE_ALIVE_KEY])
    if _CACHE_ALIVE_KEY not in found:
        cache.add(_CACHE_ALIVE_KEY, 1, timeout=None)
        return True
    return key in found


def _pin(request: HttpRequest, response: HttpResponse) -> None:
    seconds = pin_seconds()
    response.set_cookie(
        PIN_COOKIE,
        "1",
        max_age=int(seconds) + 1,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    key = _caller_key(request)
    if key is not None:
        cache.set(key, 1, timeout=seconds)


class ReplicaReadsMiddleware:
    """Marks public safe reads as replica-eligible and pins writers to the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not replica_aliases():
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.paths = tuple(settings.REPLICA_READ_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            response = self.get_response(request)
            _pin(request, response)
            return response
        eligible = request.path.startswith(self.paths) and not _pinned(request)
        token = _replica_eligible.set(eligible)
        try:
            return self.get_response(request)
        finally:
            _replica_eligible.reset(token)
