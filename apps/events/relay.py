"""The outbox relay: pending events, in `seq` order, to Kafka and to in-process subscribers.

Runs after every commit that emitted events (`schedule_relay`), from `manage.py relay_events`
and from the beat sweep. A lease in the database (`DatabaseLease`) keeps one relay publishing at
a time, which is what keeps per-key order; a relay that cannot get it returns at once (the
holder, or the next sweep, delivers). Delivery is at least once: an event is marked published
only after Kafka acknowledged it (acks=all, every delivery report checked) and its subscribers
ran. A Kafka failure records `attempts`/`last_error` on the head event and stops the run, so
nothing overtakes it. Subscribers that need the broker record their tasks durably
(`apps.events.task_outbox`), so a RabbitMQ outage never holds up Kafka; each run ends by sending
what waits there.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from apps.core.observability import continued
from apps.events import kafka
from apps.events.dispatch import deliver_to_subscribers
from apps.events.envelope import envelope
from apps.events.lease import DatabaseLease
from apps.events.models import OutboxEvent
from apps.events.task_outbox import broker_failed, broker_paused, pending_tasks_send

logger = logging.getLogger(__name__)

RELAY_LEASE = "events-relay"
SCHEDULED_FLAG = "events:relay-scheduled"


@dataclass
class RelayResult:
    published: int = 0
    failed: bool = False  # stopped at an event Kafka did not acknowledge
    skipped: bool = False  # another relay held the lock
    error: str = ""


def pending_events():
    return OutboxEvent.objects.filter(published_at=None).order_by("seq")


def relay_run(*, batch_size: int | None = None, max_batches: int | None = None) -> RelayResult:
    """Deliver pending events until none is left, a delivery fails or `max_batches` ran; then
    send the tasks waiting in the task outbox."""
    result = _relay_events(batch_size=batch_size, max_batches=max_batches)
    pending_tasks_send()
    return result


def _relay_events(*, batch_size: int | None, max_batches: int | None) -> RelayResult:
    batch_size = batch_size or settings.EVENTS_RELAY_BATCH_SIZE
    result = RelayResult()
    batches = 0
    while True:
        lease = DatabaseLease(RELAY_LEASE, ttl_seconds=settings.EVENTS_RELAY_LOCK_TTL)
        if not lease.acquire():
            result.skipped = True
            return result
        try:
            while max_batches is None or batches < max_batches:
                events = list(pending_events()[:batch_size])
                if not events:
                    break
                batches += 1
                if not _deliver_batch(events, result, lease):
                    return result
                if not lease.extend():
                    logger.warning("relay lost its lease; stopping this run")
                    return result
        finally:
            lease.release()
        # An event committed while we held the lease found it taken and left its delivery to us.
        if max_batches is not None and batches >= max_batches:
            return result
        if not pending_events().exists():
            return result


def _deliver_batch(events: list[OutboxEvent], result: RelayResult, lease: DatabaseLease) -> bool:
    outcomes: list[str | None] = (
        kafka.publish(events) if kafka.kafka_enabled() else [None] * len(events)
    )
    if not lease.extend():  # Kafka may have taken most of the lease's life
        logger.warning("relay lost its lease while publishing; stopping this run")
        return False
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
            with continued(event.context, f"outbox deliver {event.type}"):
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
    `events` queue, at most one waiting at a time (a cache flag dedupes the burst of a busy API).
    This is only a shortcut: the relay process and the beat sweep deliver without it, so with the
    cache or the broker unreachable the request goes on without waiting for either.
    """
    from config.celery import app

    try:
        if app.conf.task_always_eager:
            relay_run()
            return
        if broker_paused() or not cache.add(SCHEDULED_FLAG, 1, timeout=30):
            return
        from apps.events.tasks import relay_events_task

        relay_events_task.apply_async(retry=False)
    except Exception as exc:
        broker_failed()
        logger.warning("could not schedule the outbox relay (%s); the relay or sweep delivers", exc)


def clear_scheduled_flag() -> None:
    cache.delete(SCHEDULED_FLAG)
