"""`make stack` run for real: nginx, gunicorn, uvicorn, Celery worker and beat and the relay on
the local PostgreSQL, Redis and RabbitMQ, on ports of their own, stopped with SIGINT as Ctrl-C
stops it.

The stack gets a database of its own (`<TEST_DB_NAME>_stack`, dropped before and after), its own
Redis key prefix and Celery queue prefix (its queues are deleted afterwards) and a temporary
directory for its nginx files, static files and metrics.
"""

import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from tests.services import need, need_postgres, need_rabbitmq, need_redis

ROOT = Path(__file__).resolve().parents[2]
PORT_RANGE = (21000, 21999)  # ports this suite's own servers may use
STREAMS_PER_USER = 25
HEARTBEAT_SECONDS = 2
START_TIMEOUT = 180


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> int:
    """A first port of `count` consecutive free ones in PORT_RANGE."""
    low, high = PORT_RANGE
    for _ in range(200):
        first = random.randint(low, high - count)
        if all(port_free(first + i) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports in {PORT_RANGE}")


def _sessions_of(root_pid: int) -> set[int]:
    """Session ids of `root_pid` and all its descendants (honcho starts each process in a
    session of its own; its children, such as gunicorn's workers, stay in it)."""
    parents: dict[int, int] = {}
    sessions: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid], sessions[pid] = int(fields[1]), int(fields[3])
    found = set()
    for pid in parents:
        ancestor = pid
        while ancestor > 1:
            if ancestor == root_pid:
                found.add(sessions[pid])
                break
            ancestor = parents.get(ancestor, 0)
    return found


def processes_in(sessions: set[int]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) in sessions:
            alive.append(f"{entry.name} {cmdline}")
    return alive


@dataclass
class Stack:
    process: subprocess.Popen
    base: str
    port: int
    web_port: int
    stream_port: int
    env: dict[str, str]
    log: Path
    sessions: set[int] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def metrics(self) -> dict[str, float]:
        response = requests.get(self.url("/metrics"), timeout=10)
        assert response.status_code == 200, response.text
        values: dict[str, float] = {}
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def stop(self) -> int:
        """Ctrl-C: SIGINT to the foreground process group (make and honcho)."""
        self.sessions |= _sessions_of(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(60)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _database_url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def _drop_database(name: str) -> None:
    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _delete_queues(prefix: str) -> None:
    from config.celery import app, build_dead_letter_queues, build_queues, dead_letter_exchange

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        channel = conn.channel()
        for queue in [*build_queues(prefix), *build_dead_letter_queues(prefix)]:
            with contextlib.suppress(Exception):
                channel.queue_delete(queue.name)
            with contextlib.suppress(Exception):
                channel.exchange_delete(queue.exchange.name)
        with contextlib.suppress(Exception):
            channel.exchange_delete(dead_letter_exchange(prefix).name)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    need_postgres()
    need_redis()
    need_rabbitmq()
    need(
        subprocess.run(["make", "--version"], capture_output=True).returncode == 0,
        "make is not installed",
    )
    run_id = uuid.uuid4().hex[:8]
    database = f"{os.environ.get('TEST_DB_NAME', 'test_marketplace')}_stack"
    queue_prefix = f"stack-{run_id}."
    directory = tmp_path_factory.mktemp("stack")
    port = free_ports(3)
    env = {
        **os.environ,
        "PORT": str(port),
        "GUNICORN_BIND": f"127.0.0.1:{port + 1}",
        "UVICORN_PORT": str(port + 2),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_GRACEFUL_TIMEOUT": "3",
        "DATABASE_URL": _database_url(database),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "CACHE_KEY_PREFIX": f"stack-{run_id}",
        "CELERY_QUEUE_PREFIX": queue_prefix,
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/15",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "STACK_DIR": str(directory / "run"),
        "STATIC_ROOT": str(directory / "static"),
        "SEED_DEMO": "1",
        "NOTIFICATIONS_STREAMS_PER_USER": str(STREAMS_PER_USER),
        "NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "THROTTLE_ANON": "100000/min",
        "THROTTLE_USER": "100000/min",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "KAFKA_BOOTSTRAP_SERVERS", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    _drop_database(database)
    log = directory / "stack.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "stack"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    stack = Stack(process, f"http://127.0.0.1:{port}", port, port + 1, port + 2, env, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"make stack exited:\n{stack.log_tail()}"
            assert time.monotonic() < deadline, f"the stack did not start:\n{stack.log_tail()}"
            with contextlib.suppress(requests.RequestException):
                health = requests.get(stack.url("/api/v1/health"), timeout=5)
                stream_up = not port_free(port + 2)
                if health.status_code == 200 and stream_up:
                    break
            time.sleep(1)
        stack.sessions = _sessions_of(process.pid)
        yield stack
    finally:
        if process.poll() is None:
            stack.stop()
        for line in processes_in(stack.sessions):  # a failed test's leftovers, never kept
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        _drop_database(database)
        _delete_queues(queue_prefix)
