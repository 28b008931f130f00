"""When a failed delivery is tried again: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then every 10 h,
each with ±10 % jitter (receivers that came back are not hit by every sender at once), until the
retry window (3 days by default) closes."""

import random
from datetime import datetime, timedelta

RETRY_DELAYS_SECONDS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
JITTER = 0.1


def retry_delay(failed_attempts: int) -> timedelta:
    """The wait after the `failed_attempts`-th failure in a row (1 = the first)."""
    base = RETRY_DELAYS_SECONDS[min(failed_attempts, len(RETRY_DELAYS_SECONDS)) - 1]
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))  # noqa: S311


def next_attempt(*, failed_attempts: int, now: datetime, expires_at: datetime) -> datetime | None:
    """When to try again, or None when the retry window closes first."""
    at = now + retry_delay(failed_attempts)
    return at if at <= expires_at else None
