"""The application as production runs it, on the suite's own services: gunicorn (config.wsgi,
docker/gunicorn.conf.py), a Celery worker, celery beat and `manage.py relay_events`, all with
`config.settings.prod` and the environment below. Each test gets a fresh database (a copy of a
migrated and seeded template), its own cache key prefix, queue prefix and Kafka topic prefix."""

import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.chaos.processes import Ports, Process, children_of, run, wait_until
from tests.chaos.services import KafkaBroker, PostgresCluster, RabbitNode, RedisServer, SmtpSink

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TEMPLATE_DB = "chaos_template"
GUNICORN_WORKERS = 3
WORKER_QUEUES = "default,events,notifications,media,webhooks"
READY_TIMEOUT = 60.0


@dataclass
class Services:
    root: Path
    ports: Ports
    redis: RedisServer
    postgres: PostgresCluster
    rabbitmq: RabbitNode
    kafka: KafkaBroker
    smtp: SmtpSink


def app_env(services: Services, *, database: str, run_id: str, media_root: Path) -> dict[str, str]:
    """What the app processes see: production settings pointed at the suite's services. Only
    the throttle rates, the open-order cap, e-mail verification and the token lifetime differ
    from a production deployment: every buyer calls from 127.0.0.1 (the anonymous, sign-up and
    login throttles are per IP), each buyer places far more cash-on-delivery orders than a real
    one keeps open, buyers order without opening a verification e-mail, and a run can outlast a
    10-minute access token."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": "chaos-suite-secret-key-not-for-production-0123456789",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": services.postgres.url(database),
        "REDIS_URL": services.redis.url,
        "CACHE_KEY_PREFIX": run_id,
        "CELERY_BROKER_URL": services.rabbitmq.url,
        "CELERY_QUEUE_PREFIX": f"{run_id}.",
        "KAFKA_BOOTSTRAP_SERVERS": services.kafka.bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{run_id}.",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(services.smtp.port),
        "MEDIA_ROOT": str(media_root),
        "THROTTLE_ANON": "100000/min",
        "THROTTLE_LOGIN": "100000/min",
        # The load signs up every buyer from 127.0.0.1.
        "THROTTLE_RATES": "signup=100000/min,signup_global=100000/min",
        # The load's buyers order right after signing up; verification has tests of its own.
        "REQUIRE_EMAIL_VERIFICATION": "false",
        "ORDER_MAX_OPEN_UNPAID": "0",
        "ORDER_MAX_UNITS_PER_VARIANT": "0",
        "JWT_ACCESS_MINUTES": "120",
        "LOG_LEVEL": "INFO",
    }


def django_command(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    return run([PYTHON, *args], env=env, cwd=ROOT, timeout=timeout)


def prepare_template(services: Services) -> dict[str, Any]:
    """Create, migrate and seed the template database; return the seeded catalog."""
    services.postgres.createdb(TEMPLATE_DB)
    env = app_env(services, database=TEMPLATE_DB, run_id="template", media_root=services.root)
    django_command(env, "manage.py", "migrate", "--noinput")
    return json.loads(django_command(env, "-m", "tests.chaos.probe", "seed"))


class Stack:
    """The app processes of one test. `start()` returns once the API answers."""

    def __init__(self, services: Services, run_id: str) -> None:
        self.services = services
        self.run_id = run_id
        self.dir = services.root / run_id
        self.dir.mkdir()
        self.port = services.ports.take()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = app_env(services, database=run_id, run_id=run_id, media_root=self.dir / "media")
        self.topic = f"{run_id}.orders"
        self.gunicorn = self._process(
            "gunicorn",
            "-m", "gunicorn", "config.wsgi", "-c", str(ROOT / "docker" / "gunicorn.conf.py"),
            GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(GUNICORN_WORKERS),
            GUNICORN_THREADS="4",
        )  # fmt: skip
        self.worker = self._worker()
        self.beat = self._process(
            "beat", "-m", "celery", "-A", "config", "beat", "-l", "info",
            "-s", str(self.dir / "beat-schedule"), "--pidfile", str(self.dir / "beat.pid"),
        )  # fmt: skip
        self.relay = self._relay()

    def _process(self, name: str, *args: str, **extra_env: str) -> Process:
        env = {**self.env, **extra_env}
        return Process(name, [PYTHON, *args], log_dir=self.dir, env=env, cwd=ROOT)

    def _worker(self) -> Process:
        return self._process(
            "worker", "-m", "celery", "-A", "config", "worker", "-Q", WORKER_QUEUES,
            "-l", "info", "--concurrency", "2", "-n", f"{self.run_id}@%h",
        )  # fmt: skip

    def _relay(self) -> Process:
        return self._process("relay", "manage.py", "relay_events")

    def start(self) -> None:
        self.services.postgres.createdb(self.run_id, template=TEMPLATE_DB)
        for process in (self.gunicorn, self.worker, self.beat, self.relay):
            process.start()
        wait_until(self.api_ready, timeout=READY_TIMEOUT, what="gunicorn")

    def api_ready(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/api/v1/health/live", timeout=2).ok
        except requests.RequestException:
            return False

    def processes(self) -> list[Process]:
        return [self.gunicorn, self.worker, self.beat, self.relay]

    def exited(self) -> list[str]:
        """Processes that died on their own (a fault restarts what it kills)."""
        return [p.name for p in self.processes() if not p.running()]

    def stop(self) -> None:
        for process in self.processes():
            process.terminate()  # all at once: each winds down while the next is asked
        for process in self.processes():
            process.wait_stopped(timeout=15)

    # --- what the faults do to the processes

    def gunicorn_workers(self) -> list[int]:
        return children_of(self.gunicorn.pid)

    def relaying_processes(self) -> list[tuple[str, int]]:
        """Who can hold the event delivery: relay_events, and the worker's pool processes
        (they run the after-commit `events.relay` task and beat's sweep)."""
        pool = [("worker pool process", pid) for pid in children_of(self.worker.pid)]
        return [("relay_events", self.relay.pid), *pool]

    def kill(self, pid: int) -> None:
        """SIGKILL one of the stack's processes (or of their children) by its id."""
        if pid == self.relay.pid:
            self.relay.kill()  # (and reap it)
        else:
            os.kill(pid, signal.SIGKILL)

    def restart_relay(self) -> None:
        """A supervisor restarting the relay at once after it died."""
        self.relay = self._relay().start()

    def stop_worker(self) -> None:
        self.worker.stop(timeout=60)  # warm shutdown: the running tasks finish

    def start_worker(self) -> None:
        self.worker = self._worker().start()

    # --- reading the state

    def snapshot(self) -> dict[str, Any]:
        """The database and dead-letter queues as `tests.chaos.probe snapshot` sees them."""
        return json.loads(django_command(self.env, "-m", "tests.chaos.probe", "snapshot"))

    def logs(self, lines: int = 15) -> str:
        return "\n".join(
            f"--- {p.name} ({p.log_path}):\n{p.log_tail(lines)}" for p in self.processes()
        )
