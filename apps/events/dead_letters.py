"""Dead-letter queues on the real broker: list without losing anything, replay selectively.

Reading uses basic_get without ack; every message not replayed is left unacknowledged and goes
back to its DLQ when the channel closes. A replayed message is published (with publisher
confirms) to the queue it died in, with its original body, headers and properties, and only then
acknowledged in the DLQ: a crash in between duplicates it, never loses it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kombu import Connection, Producer
from kombu import Queue as KombuQueue
from kombu.exceptions import OperationalError
from kombu.message import Message

from config.celery import DEAD_LETTER_SUFFIX, WORK_QUEUES, app, physical_queue_name

# Set by the broker on dead-lettering; a republished copy must not carry them.
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)
_PROPERTIES = (
    "correlation_id",
    "reply_to",
    "priority",
    "expiration",
    "message_id",
    "type",
    "user_id",
    "app_id",
    "timestamp",
)


@dataclass
class DeadLetter:
    task_id: str
    task: str
    args: str
    kwargs: str
    retries: int
    reason: str
    queue: str  # the queue it died in (replay target)
    died_at: datetime | None
    error: str = ""
    message: Message | None = field(default=None, repr=False)


def dlq_name(queue: str) -> str:
    """`notifications` or `notifications.dlq` → the physical DLQ name."""
    base = queue[: -len(DEAD_LETTER_SUFFIX)] if queue.endswith(DEAD_LETTER_SUFFIX) else queue
    return f"{physical_queue_name(base)}{DEAD_LETTER_SUFFIX}"


def _describe(message: Message, dlq: str) -> DeadLetter:
    headers = message.headers or {}
    deaths = headers.get("x-death") or [{}]
    death = deaths[0]
    origin = (
        death.get("queue") or headers.get("x-first-death-queue") or dlq[: -len(DEAD_LETTER_SUFFIX)]
    )
    died_at = death.get("time")
    task_id = str(headers.get("id") or message.properties.get("correlation_id") or "")
    return DeadLetter(
        task_id=task_id,
        task=str(headers.get("task", "?")),
        args=str(headers.get("argsrepr", "")),
        kwargs=str(headers.get("kwargsrepr", "")),
        retries=int(headers.get("retries") or 0),
        reason=str(death.get("reason", headers.get("x-first-death-reason", ""))),
        queue=str(origin),
        died_at=died_at if isinstance(died_at, datetime) else None,
        error=_error_of(task_id),
        message=message,
    )


def _error_of(task_id: str) -> str:
    if not task_id:
        return ""
    try:
        result = app.AsyncResult(task_id).result
    except Exception:  # no result backend reachable: the list still works
        return ""
    reason = getattr(result, "reason", None)  # Reject(reason=<the task's exception>)
    return repr(reason if reason is not None else result) if result is not None else ""


@contextmanager
def _channel() -> Iterator[tuple[Connection, Any]]:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
        channel = conn.channel()
        try:
            yield conn, channel
        finally:
            channel.close()  # unacknowledged messages return to their queue


def _drain(channel: Any, dlq: str) -> Iterator[Message]:
    queue = KombuQueue(dlq, channel=channel, no_declare=True)
    while True:
        message = queue.get(no_ack=False, accept=["json", "application/json"])
        if message is None:
            return
        yield message


def dead_letters_list(queue: str) -> list[DeadLetter]:
    """Every message in `<queue>.dlq`, oldest first; the queue is left as it was."""
    dlq = dlq_name(queue)
    with _channel() as (_conn, channel):
        letters = [_describe(m, dlq) for m in _drain(channel, dlq)]
    for letter in letters:
        letter.message = None
    return letters


def dead_letters_requeue(
    queue: str, *, task_ids: set[str] | None = None, reset_retries: bool = False
) -> list[DeadLetter]:
    """Replay the dead letters of `queue` (all, or those whose task id is in `task_ids`)."""
    dlq = dlq_name(queue)
    replayed = []
    with _channel() as (_conn, channel):
        channel.confirm_select()
        producer = Producer(channel)
        for message in _drain(channel, dlq):
            letter = _describe(message, dlq)
            if task_ids is not None and letter.task_id not in task_ids:
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if k not in _BROKER_HEADERS}
            if reset_retries:
                headers["retries"] = 0
            properties = {k: message.properties[k] for k in _PROPERTIES if k in message.properties}
            producer.publish(
                message.body,
                exchange="",
                routing_key=letter.queue,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=message.properties.get("delivery_mode", 2),
                **properties,
            )
            message.ack()
            letter.message = None
            replayed.append(letter)
    return replayed


def dead_letters_count(*, timeout: float = 1.0) -> dict[str, int] | None:
    """How many messages wait in each work queue's DLQ (`{"notifications": 2, ...}`), read with
    passive declares (nothing is consumed); None when the broker does not answer within about
    `timeout` seconds (connect, handshake and each read are bounded; no retry), so a page that
    shows the figure never hangs on a broker outage. A DLQ not declared yet counts 0."""
    conn = app.connection_for_write(
        connect_timeout=timeout,
        transport_options={"read_timeout": timeout, "write_timeout": timeout},
    )
    counts: dict[str, int] = {}
    try:
        conn.ensure_connection(max_retries=0)
        for queue in WORK_QUEUES:
            channel = conn.channel()
            try:
                _, counts[queue], _ = channel.queue_declare(queue=dlq_name(queue), passive=True)
            except conn.channel_errors:  # 404: never declared, so nothing was dead-lettered
                counts[queue] = 0
            finally:
                if channel.is_open:
                    channel.close()
    except (OSError, OperationalError, *conn.connection_errors):
        return None
    finally:
        conn.release()
    return counts
