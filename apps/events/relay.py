"""The outbox relay: pending events, in `seq` order, to Kafka and to in-process subscribers.

Runs after every commit that emitted events (`schedule_relay`), from `manage.py relay_events`
and from the beat sweep. A Redis lock keeps one relay publishing at a time, which is what keeps
per-key order; a relay that cannot get the lock returns at once (the holder, or the next sweep,
delivers). Delivery is at least once: an event is marked published only after Kafka acknowledged
it (acks=all, every delivery report checked) and its subscribers ran. A Kafka failure records
`attempts`/`last_error` on the head event and stops the run, so nothing overtakes it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.events import kafka
from apps.events.dispatch import deliver_to_subscribers
from apps.events.envelope import envelope
from apps.events.lock import RedisLock, lock_key
from apps.events.models import OutboxEvent

logger = logging.getLogger(__name__)

RELAY_LOCK = "events-relay"
SCHEDULED_FLAG = "events-relay-scheduled"


@dataclass
class RelayResult:
    published: int = 0
    failed: bool = False  # stopped at an event Kafka did not acknowledge
    skipped: bool = False  # another relay held the lock
    error: str = ""


def pending_events():
    return OutboxEvent.objects.filter(published_at=None).order_by("seq")


def relay_run(*, batch_size: int | None = None, max_batches: int | None = None) -> RelayResult:
    """Deliver pending events until none is left, a delivery fails or `max_batches` ran."""
    batch_size = batch_size or settings.EVENTS_RELAY_BATCH_SIZE
    result = RelayResult()
    batches = 0
    while True:
        lock = RedisLock(RELAY_LOCK, ttl_seconds=settings.EVENTS_RELAY_LOCK_TTL)
        if not lock.acquire():
            result.skipped = True
            return result
        try:
            while max_batches is None or batches < max_batches:
                events = list(pending_events()[:batch_size])
                if not events:
                    break
                batches += 1
                if not _deliver_batch(events, result):
                    return result
                if not lock.extend():
                    logger.warning("relay lost its lock; stopping this run")
                    return result
        finally:
            lock.release()
        # An event committed while we held the lock found it taken and left its delivery to us.
        if max_batches is not None and batches >= max_batches:
            return result
        if not pending_events().exists():
            return result


def _deliver_batch(events: list[OutboxEvent], result: RelayResult) -> bool:
    outcomes: list[str | None] = (
        kafka.publish(events) if kafka.kafka_enabled() else [None] * len(events)
    )
    delivered: list[int] = []  # published without handler errors: marked in one UPDATE
    try:
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome is not None:
                OutboxEvent.objects.filter(pk=event.pk).update(
                    attempts=F("attempts") + 1, last_error=f"kafka: {outcome}"[:2000]
                )
                logger.warning(
                    "Kafka did not acknowledge event %s (seq %s): %s", event.id, event.seq, outcome
                )
                result.failed = True
                result.error = outcome
                return False
            errors = deliver_to_subscribers(envelope(event))
            if errors:
                result.published += OutboxEvent.objects.filter(
                    pk=event.pk, published_at=None
                ).update(
                    published_at=timezone.now(),
                    attempts=F("attempts") + 1,
                    last_error="\n".join(errors)[:2000],
                )
            else:
                delivered.append(event.pk)
    finally:
        if delivered:
            result.published += OutboxEvent.objects.filter(
                pk__in=delivered, published_at=None
            ).update(published_at=timezone.now())
    return True


def schedule_relay() -> None:
    """Called by `transaction.on_commit` after a commit that emitted events. Never raises.

    Eager (embedded default, tests): the relay runs inline. Otherwise a relay task goes to the
    `events` queue, at most one waiting at a time (a Redis flag dedupes the burst of a busy API).
    """
    from config.celery import app

    try:
        if app.conf.task_always_eager:
            relay_run()
            return
        from apps.events.lock import _client

        try:
            first = _client(settings.REDIS_URL).set(lock_key(SCHEDULED_FLAG), "1", nx=True, ex=30)
        except Exception:  # Redis down: enqueue anyway, the relay lock still serialises
            first = True
        if first:
            from apps.events.tasks import relay_events_task

            relay_events_task.apply_async()
    except Exception:
        logger.exception("could not schedule the outbox relay; the periodic sweep will deliver")


def clear_scheduled_flag() -> None:
    from apps.events.lock import _client

    try:
        _client(settings.REDIS_URL).delete(lock_key(SCHEDULED_FLAG))
    except Exception:
        logger.debug("could not clear the relay-scheduled flag", exc_info=True)
