"""The faults, each injected under load and then undone (or survived) as operations would.

A fault is a function `(target, seconds) -> Window`: it runs for about `seconds` while the
buyers keep going, and returns once the dependency is back.
"""

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.chaos.checks import Window, delivery_resumed
from tests.chaos.load import Load
from tests.chaos.processes import NotReady, wait_until
from tests.chaos.stack import Services, Stack
from tests.chaos.watch import KafkaWatch

# Beat sends the relay sweep every 10 s with a 10 s expiry: a shorter pause makes none late.
MIN_WORKER_PAUSE = 25.0
GUNICORN_KILLS = 3
# With Kafka frozen, this many new orders and this long let a relay take their events and wait.
IN_BATCH_ORDERS = 3
IN_BATCH_SECONDS = 1.0
# How long a broken relay restart is waited for, so the summary shows the real stall.
RESUME_WAIT = 180.0


@dataclass(frozen=True)
class Target:
    services: Services
    stack: Stack
    load: Load
    watch: KafkaWatch


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Target, float], Window]
    # PostgreSQL restarting: requests during the restart may fail, none after it.
    server_errors_allowed_while_down: bool = False
    resume_limit: float | None = None  # seconds for event delivery to resume after the fault
    # The Kafka path waits neither on Redis nor on RabbitMQ: a placed order's event reaches
    # Kafka within this many seconds (None: the relay itself is the fault).
    kafka_lag_limit: float | None = 10.0


def redis_down(target: Target, seconds: float) -> Window:
    started = time.monotonic()
    target.services.redis.stop()
    time.sleep(seconds)
    target.services.redis.start()
    recovered = time.monotonic()
    return Window(started, recovered, (recovered,))


def rabbitmq_down(target: Target, seconds: float) -> Window:
    started = time.monotonic()
    target.services.rabbitmq.stop_node()
    time.sleep(seconds)
    target.services.rabbitmq.start()
    recovered = time.monotonic()
    return Window(started, recovered, (recovered,))


def relay_killed(target: Target, seconds: float) -> Window:
    """SIGKILL the relay mid-batch, holding the delivery, and restart it at once as a supervisor
    would; event delivery must resume within 20 s.

    To catch the relay holding the delivery, Kafka (Tansu) is frozen first: the relay that takes
    the next orders' events then waits for Kafka's acknowledgement, holding its lock. Every
    process that can be that relay is killed: `manage.py relay_events` (started again here) and
    the worker's pool processes, which run the after-commit `events.relay` task (the worker's
    master forks new ones). Then Kafka is thawed."""
    stack, load, kafka = target.stack, target.load, target.services.kafka
    started = time.monotonic()
    kafka.freeze()
    try:
        wait_until(
            lambda: load.placed_since(started) >= IN_BATCH_ORDERS,
            timeout=30,
            what="orders placed while Kafka is frozen",
        )
        time.sleep(IN_BATCH_SECONDS)
        victims = stack.relaying_processes()
        killed = time.monotonic()
        for _, pid in victims:
            stack.kill(pid)
    finally:
        kafka.thaw()
    stack.restart_relay()
    with contextlib.suppress(NotReady):  # the checker reports that delivery never resumed
        wait_until(
            lambda: delivery_resumed(killed, list(load.purchases), target.watch.placed()),
            timeout=RESUME_WAIT,
            what="event delivery after the relay was killed",
        )
    _sleep_until(started + seconds)
    names = ", ".join(name for name, _ in victims)
    return Window(started, killed, (killed,), note=f"SIGKILLed mid-batch: {names}")


def postgres_restarted(target: Target, seconds: float) -> Window:
    """`pg_ctl restart -m fast` twice: under full load (transactions aborted mid-order; answers
    while it restarts may fail), then in a lull, which leaves every pooled connection stale.
    From the second restart on, no request may fail."""
    postgres, load = target.services.postgres, target.load
    started = time.monotonic()
    postgres.restart()
    load.pause()
    postgres.restart()
    recovered = time.monotonic()
    load.resume()
    time.sleep(seconds)
    return Window(started, recovered, (recovered,))


def gunicorn_worker_killed(target: Target, seconds: float) -> Window:
    """SIGKILL a gunicorn worker while orders are being placed, GUNICORN_KILLS times over the
    fault (the master forks a new worker each time)."""
    started = time.monotonic()
    for index in range(GUNICORN_KILLS):
        _sleep_until(started + index * seconds / GUNICORN_KILLS)
        wait_until(lambda: target.load.in_flight("order"), timeout=30, what="an order in flight")
        target.stack.kill(random.choice(target.stack.gunicorn_workers()))
    _sleep_until(started + seconds)
    return Window(started, started, (started,))


def worker_behind(target: Target, seconds: float) -> Window:
    """The Celery worker stopped for a while, then started again: beat keeps sending sweeps."""
    started = time.monotonic()
    target.stack.stop_worker()
    time.sleep(max(seconds, MIN_WORKER_PAUSE))
    target.stack.start_worker()
    recovered = time.monotonic()
    return Window(started, recovered, (recovered,))


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


REDIS_DOWN = Fault("Redis down", redis_down)
RABBITMQ_DOWN = Fault("RabbitMQ down", rabbitmq_down)
RELAY_KILLED = Fault("relay SIGKILLed", relay_killed, resume_limit=20.0, kafka_lag_limit=None)
POSTGRES_RESTARTED = Fault(
    "PostgreSQL restarted", postgres_restarted, server_errors_allowed_while_down=True
)
GUNICORN_WORKER_KILLED = Fault("gunicorn worker SIGKILLed", gunicorn_worker_killed)
WORKER_BEHIND = Fault("worker behind", worker_behind)
