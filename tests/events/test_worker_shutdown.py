"""A supervisor that stops the Celery worker by signalling its whole process group (honcho under
`make stack`, systemd's default KillMode) gets a warm shutdown: the task that is running
finishes, is acknowledged, and does not run again."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.celery import app, build_queues
from tests.brokers import wait_for
from tests.services import need_rabbitmq

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TASK_SECONDS = 3.0


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """A prefork worker (one pool process) on a queue prefix of its own."""
    need_rabbitmq()
    prefix = f"shutdown-{uuid.uuid4().hex[:10]}-"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "BENCH_CELERY_EAGER": "false",
        "BENCH_CELERY_QUEUE_PREFIX": prefix,
    }
    argv = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{prefix}default",
        "--pool", "prefork", "--concurrency", "1", "-I", "tests.events.worker_probe",
        "-n", f"{prefix}@%h", "--loglevel", "INFO",
    ]  # fmt: skip
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a supervisor starts it
    )
    try:
        yield process, prefix
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            for queue in build_queues(prefix):
                channel.queue_delete(queue.name)
                channel.exchange_delete(queue.exchange.name)
            channel.exchange_delete(f"{prefix}dlx")


def _pending(queue_name: str) -> int:
    with app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(queue_name, passive=True).message_count


def test_sigterm_to_the_workers_process_group_lets_the_running_task_finish(
    worker, tmp_path, monkeypatch
):
    process, prefix = worker
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # this test sends to the broker
    default = build_queues(prefix)[0]
    app.send_task(
        "tests.worker_probe.sleep_then_note", args=[str(tmp_path), TASK_SECONDS], queue=default
    )
    started = tmp_path / "started"
    wait_for(started.exists, timeout=60, interval=0.1)
    pool_process = int(started.read_text().split()[0])
    assert pool_process != process.pid  # it runs in the pool, not in the main process

    os.killpg(process.pid, signal.SIGTERM)  # the whole group, as the supervisors above do
    assert process.wait(TASK_SECONDS + 30) == 0

    assert (tmp_path / "finished").read_text().split() == [str(pool_process)]
    assert started.read_text().split() == [str(pool_process)]  # it ran once
    assert _pending(default.name) == 0  # acknowledged: nothing comes back to run again
