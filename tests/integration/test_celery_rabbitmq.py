"""Celery on RabbitMQ for real: retries, dead-lettering, `dlq list|requeue`, the relay task."""

import io
import threading

import pytest
from celery.result import AsyncResult
from django.core.management import CommandError, call_command
from django.db import transaction

from apps.events import emit
from apps.events.dead_letters import dead_letters_list
from apps.events.models import OutboxEvent
from config.celery import WORK_QUEUES, RetryingTask, app, physical_queue_name
from tests.brokers import wait_for

pytestmark = pytest.mark.integration

RUNS: list[str] = []
BEHAVIOUR = {"fail": True}


@app.task(
    base=RetryingTask,
    name="tests.integration.always_fails",  # not routed: goes to the `default` queue
    max_retries=2,
    retry_backoff=False,  # a tiny, fixed backoff keeps the test fast
    default_retry_delay=0,
)
def always_fails(label: str) -> str:
    RUNS.append(label)
    if BEHAVIOUR["fail"]:
        raise RuntimeError(f"cannot process {label}")
    return f"processed {label}"


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()
    BEHAVIOUR["fail"] = True
    yield
    BEHAVIOUR["fail"] = True


def _dlq(queue: str = "default") -> list:
    return dead_letters_list(queue)


def _out(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_task_that_always_fails_is_dead_lettered_after_retries_and_requeue_replays_it(
    celery_worker_real, caplog
):
    result = always_fails.delay("order-42")

    [letter] = wait_for(_dlq, timeout=20)
    assert RUNS == ["order-42"] * 3  # the first attempt and max_retries=2 retries
    assert letter.task_id == result.id
    assert letter.task == "tests.integration.always_fails"
    assert letter.args == "('order-42',)"
    assert letter.retries == 2
    assert letter.reason == "rejected"
    assert letter.queue == physical_queue_name("default")
    assert letter.died_at is not None
    assert "cannot process order-42" in letter.error
    assert f"always_fails[{result.id}] failed after 3 attempts" in caplog.text

    listing = _out("dlq", "list", "default")
    assert f"{physical_queue_name('default')}.dlq: 1 message(s)" in listing
    assert result.id in listing
    assert "cannot process order-42" in listing
    assert len(_dlq()) == 1  # listing consumed nothing

    BEHAVIOUR["fail"] = False  # the bug is fixed; replay
    replay = _out("dlq", "requeue", "default", "--id", result.id)
    assert f"requeued {result.id} tests.integration.always_fails" in replay

    wait_for(lambda: AsyncResult(result.id, app=app).state == "SUCCESS", timeout=20)
    assert AsyncResult(result.id, app=app).result == "processed order-42"
    assert RUNS == ["order-42"] * 4
    assert _dlq() == []


def test_requeue_all_and_unknown_ids(celery_worker_real):
    first = always_fails.delay("a")
    second = always_fails.delay("b")
    letters = wait_for(lambda: len(_dlq()) == 2 and _dlq(), timeout=30)
    assert {letter.task_id for letter in letters} == {first.id, second.id}

    with pytest.raises(CommandError, match="not found"):
        call_command("dlq", "requeue", "default", "--id", "no-such-task", stdout=io.StringIO())
    assert len(_dlq()) == 2  # a miss puts nothing back twice and loses nothing

    BEHAVIOUR["fail"] = False
    out = _out("dlq", "requeue", "default", "--all")
    assert "2 message(s) requeued" in out
    wait_for(lambda: sorted(RUNS[-2:]) == ["a", "b"] and len(RUNS) == 8, timeout=20)
    assert _dlq() == []
    assert _out("dlq", "list").count(": 0 message(s)") == len(WORK_QUEUES)  # every DLQ empty


def test_committed_event_is_relayed_by_the_worker_on_the_events_queue(
    celery_worker_real, event_subscribers
):
    seen = []
    done = threading.Event()

    def on_event(envelope):
        seen.append((threading.current_thread() is threading.main_thread(), envelope["key"]))
        done.set()

    event_subscribers("test.worker_relay", on_event)
    with transaction.atomic():
        event = emit("test.worker_relay", "k-9", {})

    assert done.wait(20)
    assert seen == [(False, "k-9")]  # delivered by the worker thread, not inline
    wait_for(
        lambda: OutboxEvent.objects.filter(pk=event.pk).exclude(published_at=None).exists(),
        timeout=10,
    )


def test_retrying_task_run_eagerly_raises_the_tasks_own_error(settings):
    assert app.conf.task_always_eager
    with pytest.raises(RuntimeError, match="cannot process eager"):
        always_fails.delay("eager")
    assert RUNS == ["eager"]  # no synchronous retry loop in eager mode
