"""Failed logins counted per (e-mail, client address), with a growing back-off.

After `login_failure` failures (a throttle rate, 10/hour by default) for one e-mail from one
address, that pair is refused for LOGIN_BACKOFF_BASE_SECONDS (60), then twice as long after each
further lockout of the pair, up to LOGIN_BACKOFF_MAX_SECONDS (1 hour); a successful login clears
it. Counting per pair rather than per e-mail means a stranger cannot lock an owner out: the owner,
from another address, still signs in. Guessing from many addresses is bounded by each address's
`login` throttle. The counters live in the cache (Redis): without it logins are not locked out,
as every throttle lets requests through while Redis is down (docs/reliability.md)."""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STRIKES_TTL = 24 * 3600  # lockouts of a pair count toward its back-off for a day


def _rate() -> tuple[int, int]:
    """(failures, window in seconds) of the `login_failure` throttle rate."""
    count, _, period = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_failure"].partition(
        "/"
    )
    return int(count), _PERIODS[period[0]]


def _key(kind: str, *, email: str, address: str) -> str:
    # The e-mail hashed: keys show in Redis tools and must not list who tries to sign in.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}:{address}"


def login_lockout_remaining(*, email: str, address: str) -> int:
    """Seconds until this pair may try again; 0 when it may now."""
    until = cache.get(_key("lock", email=email, address=address))
    if not isinstance(until, int | float):
        return 0
    return max(0, math.ceil(until - time.time()))


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return int(cache.incr(key) or 1)
    except ValueError:  # expired between the add and the incr
        cache.set(key, 1, timeout)
        return 1


def login_failure_record(*, email: str, address: str) -> int:
    """Count a failed login of the pair; lock the pair when it reaches the limit. Returns the
    lock's length in seconds (0: not locked)."""
    limit, window = _rate()
    count_key = _key("count", email=email, address=address)
    if _incr(count_key, window) < limit:
        return 0
    strikes = _incr(_key("strikes", email=email, address=address), STRIKES_TTL)
    seconds = min(
        settings.LOGIN_BACKOFF_BASE_SECONDS * 2 ** (strikes - 1),
        settings.LOGIN_BACKOFF_MAX_SECONDS,
    )
    cache.set(_key("lock", email=email, address=address), time.time() + seconds, seconds)
    cache.delete(count_key)
    return seconds


def login_failures_clear(*, email: str, address: str) -> None:
    """A successful login: the pair starts afresh."""
    cache.delete_many([_key(kind, email=email, address=address) for kind in ("count", "strikes")])
