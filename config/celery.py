"""Celery on RabbitMQ: JSON only, late acks, dead-letter queues and one retry policy.

Every work queue (`default`, `events`, `notifications`, `media`, `webhooks`) is declared with a
dead-letter exchange, so a message that a task finally rejects lands in `<queue>.dlq`, where
`manage.py dlq list|requeue` shows and replays it. Tasks use `RetryingTask`:

    from config.celery import RetryingTask, app

    @app.task(base=RetryingTask, name="notifications.send")  # routed by name, see task_routes
    def notification_send(notification_id: str) -> None: ...
"""

import logging
import os
import threading
from typing import Any

from celery import Celery, Task, signals
from celery.exceptions import Reject
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

logger = logging.getLogger("config.celery")

#: Logical queue names; tasks route with `queue="<name>"`. Physical names get CELERY_QUEUE_PREFIX.
WORK_QUEUES = ("default", "events", "notifications", "media", "webhooks")
DEAD_LETTER_SUFFIX = ".dlq"

#: Policy every environment shares; settings (CELERY_*) still hold the env-driven values.
POLICY: dict[str, Any] = {
    "accept_content": ["json"],
    "task_serializer": "json",
    "result_serializer": "json",
    "task_acks_late": True,  # a worker crash mid-task redelivers instead of losing the message
    "task_reject_on_worker_lost": True,
    "task_acks_on_failure_or_timeout": True,
    "task_store_errors_even_if_ignored": True,  # `dlq list` shows the error from the backend
    "task_soft_time_limit": 240,  # raises SoftTimeLimitExceeded in the task: retried like errors
    "task_time_limit": 300,
    "worker_prefetch_multiplier": 1,  # one long task never holds a queue of others hostage
    "task_default_queue": "default",
    # Routing by task name (the `queue=` task attribute is deprecated in Celery 5.7).
    "task_routes": {
        "events.*": {"queue": "events"},
        "apps.events.*": {"queue": "events"},
        "notifications.*": {"queue": "notifications"},
        "apps.notifications.*": {"queue": "notifications"},
        "media.*": {"queue": "media"},
        "apps.media.*": {"queue": "media"},
        "webhooks.*": {"queue": "webhooks"},
        "apps.webhooks.*": {"queue": "webhooks"},
    },
    "task_create_missing_queues": False,  # a typo'd queue name fails loudly at publish
    "worker_hijack_root_logger": False,  # Django's LOGGING stays in charge
    "broker_connection_retry_on_startup": True,
    # Publisher confirms: a send returns once RabbitMQ has taken the message (persisted, for
    # these durable queues). Without them a message written just as the broker stops, or one it
    # refuses, is dropped silently after the task outbox has deleted its row.
    "broker_transport_options": {"confirm_publish": True},
    "result_expires": 7 * 24 * 3600,
    "task_track_started": False,
}

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_queue_lock = threading.Lock()


def dead_letter_exchange(prefix: str = "") -> Exchange:
    return Exchange(f"{prefix}dlx", type="direct", durable=True)


def build_queues(prefix: str = "") -> list[Queue]:
    """The work queues, each dead-lettering to `<physical name>.dlq` through the DLX."""
    queues = []
    for name in WORK_QUEUES:
        physical = f"{prefix}{name}"
        queues.append(
            Queue(
                physical,
                Exchange(physical, type="direct", durable=True),
                routing_key=physical,
                durable=True,
                queue_arguments={
                    "x-dead-letter-exchange": dead_letter_exchange(prefix).name,
                    "x-dead-letter-routing-key": f"{physical}{DEAD_LETTER_SUFFIX}",
                },
                # Tasks keep saying queue="notifications" whatever the prefix.
                alias=name if prefix else None,
            )
        )
    return queues


def build_dead_letter_queues(prefix: str = "") -> list[Queue]:
    dlx = dead_letter_exchange(prefix)
    return [
        Queue(
            f"{prefix}{name}{DEAD_LETTER_SUFFIX}",
            dlx,
            routing_key=f"{prefix}{name}{DEAD_LETTER_SUFFIX}",
            durable=True,
        )
        for name in WORK_QUEUES
    ]


def use_queue_prefix(prefix: str) -> None:
    """(Re)build the queue table and the router with a physical-name prefix (test runs sharing
    one broker)."""
    with _queue_lock:
        app.conf.queue_prefix = prefix
        app.conf.task_queues = build_queues(prefix)
        amqp = app.amqp
        amqp.queues = app.conf.task_queues
        del amqp.default_queue  # a cached property: computed again from the new queues
        amqp.flush_routes()  # task_routes read again
        amqp.router = amqp.Router()


def physical_queue_name(name: str) -> str:
    """`notifications` → the queue's real name; an unknown or already physical name is kept."""
    base, dlq = (
        (name[: -len(DEAD_LETTER_SUFFIX)], True)
        if name.endswith(DEAD_LETTER_SUFFIX)
        else (name, False)
    )
    queues = app.amqp.queues
    queue = queues.aliases.get(base) or (queues.get(base) if base in queues else None)
    physical = queue.name if queue is not None else base
    return f"{physical}{DEAD_LETTER_SUFFIX}" if dlq else physical


def declare_dead_letter_queues(connection: Any | None = None) -> None:
    """Declare the DLX and every `<queue>.dlq` so that a rejected message is never dropped."""
    prefix = app.conf.get("queue_prefix", "")
    own = connection is None
    conn = app.connection_for_write() if connection is None else connection
    try:
        channel = conn.default_channel
        for queue in build_dead_letter_queues(prefix):
            queue(channel).declare()
        for queue in build_queues(prefix):
            queue(channel).declare()
    finally:
        if own:
            conn.release()


@app.on_after_configure.connect
def _apply_policy(sender: Celery, **_: Any) -> None:
    from django.conf import settings

    for key, value in POLICY.items():
        if not hasattr(settings, f"CELERY_{key.upper()}"):  # a setting wins over the policy
            sender.conf[key] = value
    prefix = getattr(settings, "CELERY_QUEUE_PREFIX", "")
    sender.conf.queue_prefix = prefix
    sender.conf.task_queues = build_queues(prefix)


# Database connections in workers: Celery's Django fixup closes every connection before and
# after each task unless CELERY_DB_REUSE_MAX is set, so each task paid a new PostgreSQL
# connection (a backend process forked, authenticated and warmed: more database CPU than the
# task's own queries). Workers reuse connections as web requests do instead: Django's
# `close_old_connections` around each task drops only a connection that is broken, in a failed
# state or older than CONN_MAX_AGE. Eager tasks (embedded default, tests) run inside a caller's
# transaction and are left alone, as the fixup leaves them.
app.conf["CELERY_DB_REUSE_MAX"] = 2**31  # the fixup then closes only every 2**31 tasks


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: Task | None = None, **_: Any) -> None:
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_process_init.connect
def _leave_the_worker_process_group(**_: Any) -> None:
    """A pool process moves to a process group of its own. Supervisors that stop a program by
    signalling its whole group (honcho under `make stack`, systemd's default
    KillMode=control-group, supervisord's stopasgroup) would otherwise send SIGTERM to every
    pool process too, where Celery restores its default action: the running tasks died mid-way
    and came back redelivered (an e-mail already handed to the SMTP server went out twice).
    Outside the group only the main process hears it and shuts down warm: running tasks finish
    and are acknowledged. The pool still reaches its processes by their ids (cold shutdown,
    time limits), and each dies with the main process (Celery sets their parent-death signal)."""
    os.setpgrp()


@signals.worker_init.connect
def _declare_dead_letters_on_start(sender: Any = None, **_: Any) -> None:
    # Before the first message is consumed, so the first rejection already has somewhere to go.
    try:
        declare_dead_letter_queues()
    except Exception:
        logger.exception("could not declare the dead-letter queues; rejected tasks may be dropped")


class RetryingTask(Task):
    """Retries any exception with exponential backoff and full jitter, then dead-letters.

    Attempts: 1 + `max_retries`. After the last one the message is rejected without requeue, so
    RabbitMQ moves it to `<queue>.dlq` (see `manage.py dlq`). Tasks must be idempotent: a message
    can run again after a worker crash (acks_late) or a replay from the DLQ. Run eagerly
    (CELERY_TASK_ALWAYS_EAGER), the original exception propagates instead.
    """

    autoretry_for = (Exception,)
    retry_backoff = 2  # seconds, doubled per attempt: 2, 4, 8, 16, 32 (then capped)
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5
    acks_late = True
    reject_on_worker_lost = True

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: Any = None,
        countdown: Any = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        request = self.request
        if request.is_eager and exc is not None:
            # Eager (embedded default, tests): no broker to come back through, so no retries;
            # the caller sees the task's own exception rather than celery's Retry.
            raise exc
        limit = self.max_retries if max_retries is None else max_retries
        if limit is not None and request.retries >= limit and not request.called_directly:
            logger.error(
                "task %s[%s] failed after %d attempts, dead-lettering: %r",
                self.name,
                request.id,
                request.retries + 1,
                exc,
                extra={"task_id": request.id, "task_name": self.name},
            )
            raise Reject(exc, requeue=False)
        return super().retry(
            args=args,
            kwargs=kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )
