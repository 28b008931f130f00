"""A lease in the database: at most one holder at a time, expiring on its own if the holder dies.

The relay takes it so that only one process publishes at a time (which is what keeps per-key
order). Taking, renewing and releasing are each one conditional UPDATE judged by the database's
clock, so the clocks of the hosts running relays never matter. The lease lives
`EVENTS_RELAY_LOCK_TTL` seconds (15 by default) and the relay renews it after every batch: a
relay killed mid-run holds up delivery for that long at most.
"""

import secrets
import threading
from datetime import UTC, datetime, timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

from apps.events.models import Lease


def _from_now(seconds: float) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + timedelta(seconds=seconds), output_field=DateTimeField())


_holders = threading.local()


def holder_token() -> str:
    """This thread's identity as a lease holder, the same for its whole life: a relay whose
    connection broke mid-run (a database restart) takes its still-valid lease back at once
    instead of waiting for it to expire. Threads never share one."""
    token = getattr(_holders, "token", None)
    if token is None:
        token = _holders.token = secrets.token_hex(16)
    return token


class DatabaseLease:
    def __init__(self, name: str, *, ttl_seconds: float, holder: str | None = None) -> None:
        self.name = name
        self.ttl = ttl_seconds
        self.token = holder or holder_token()

    def acquire(self) -> bool:
        """Try once, without waiting. True when this instance now holds the lease."""
        Lease.objects.bulk_create(
            [Lease(name=self.name, holder="", expires_at=datetime(2000, 1, 1, tzinfo=UTC))],
            ignore_conflicts=True,
        )
        return bool(
            Lease.objects.filter(
                Q(expires_at__lt=Now()) | Q(holder=self.token), name=self.name
            ).update(holder=self.token, expires_at=_from_now(self.ttl))
        )

    def extend(self) -> bool:
        """Renew for another TTL; False when the lease was lost (it expired and was taken)."""
        return bool(
            Lease.objects.filter(name=self.name, holder=self.token).update(
                expires_at=_from_now(self.ttl)
            )
        )

    def release(self) -> None:
        Lease.objects.filter(name=self.name, holder=self.token).update(
            holder="", expires_at=_from_now(-1)
        )
