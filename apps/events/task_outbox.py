"""Celery tasks sent durably: recorded in the caller's transaction, sent after it commits, and
sent again until the broker has taken them.

`task_enqueue(task, **kwargs)` writes a `PendingTask` row where the work is decided (an event
handler in the relay, a service) and sends it right after commit; the row goes once the broker
accepted the message. If RabbitMQ is down the row stays, and `pending_tasks_send()` (run by the
relay after each pass) sends it later, with a growing delay per row. The message's task id is the
row's id, so a row sent twice (a crash between the send and the row's deletion) is the same task
twice, and every task sent this way is idempotent.

A failed send pauses sending in this process for `BROKER_PAUSE_SECONDS`: while the broker is
down, callers (the relay publishing to Kafka, most of all) never wait on one connection attempt
after another.
"""

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.events.models import PendingTask

logger = logging.getLogger(__name__)

BROKER_PAUSE_SECONDS = 5.0
RETRY_DELAYS = (5, 15, 60, 300)  # seconds before the 1st, 2nd, 3rd and every later resend
SWEEP_LIMIT = 500

_pause = threading.Lock()
_paused_until = 0.0


def task_enqueue(task: Task, **kwargs: Any) -> None:
    """Send `task(**kwargs)` after the caller's transaction commits; never lost (see above)."""
    tasks_enqueue(task, [kwargs])


def tasks_enqueue(task: Task, calls: Sequence[dict[str, Any]]) -> None:
    """`task_enqueue` for many calls of one task: one INSERT."""
    if not calls:
        return
    rows = PendingTask.objects.bulk_create([PendingTask(name=task.name, kwargs=k) for k in calls])
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: pending_tasks_send(ids=ids))


def broker_paused() -> bool:
    return time.monotonic() < _paused_until


def broker_failed() -> None:
    """Note a failed send to the broker: this process stops trying for a few seconds."""
    global _paused_until
    with _pause:
        _paused_until = time.monotonic() + BROKER_PAUSE_SECONDS


def _eager() -> bool:
    from config.celery import app

    return bool(app.conf.task_always_eager)


def _send(row: PendingTask) -> None:
    from config.celery import app

    # retry=False: one attempt; the row is the retry. apply_async runs eager tasks in-process.
    app.tasks[row.name].apply_async(kwargs=row.kwargs, task_id=str(row.pk), retry=False)


def pending_tasks_send(*, ids: list[Any] | None = None) -> int:
    """Send the given rows, or every row due; returns how many the broker took. Never raises."""
    if broker_paused():
        return 0
    try:
        rows = PendingTask.objects.order_by("next_attempt_at")
        rows = (
            rows.filter(pk__in=ids)
            if ids is not None
            else rows.filter(next_attempt_at__lte=timezone.now())
        )
        sent = 0
        for row in rows[:SWEEP_LIMIT]:
            try:
                _send(row)
            except Exception as exc:
                delay = RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS) - 1)]
                PendingTask.objects.filter(pk=row.pk).update(
                    attempts=F("attempts") + 1,
                    next_attempt_at=timezone.now() + timedelta(seconds=delay),
                    last_error=repr(exc)[:2000],
                )
                logger.warning("could not send task %s (%s); it waits in the outbox", row.name, exc)
                if not _eager():  # an eager task's own failure says nothing of a broker
                    broker_failed()
                break
            PendingTask.objects.filter(pk=row.pk).delete()
            sent += 1
        return sent
    except Exception:
        logger.exception("could not send pending tasks; the relay retries")
        return 0
