"""A real HTTP receiver on the loopback (a thread running http.server) and webhook test data."""

import errno
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.webhooks import services
from apps.webhooks.models import WebhookEndpoint
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

# This suite's ports (the machine's test runs share it): a receiver listens on one of these.
PORTS = range(25000, 26000)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, delay) or 200, and records it."""

    port: int
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *statuses: int, delay: float = 0.0) -> None:
        with self.lock:
            self.script.extend((status, delay) for status in statuses)

    def next_answer(self) -> tuple[int, float]:
        with self.lock:
            return self.script.pop(0) if self.script else (200, 0.0)

    def record(self, received: Received) -> None:
        with self.lock:
            self.requests.append(received)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.record(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, delay = receiver.next_answer()
            if delay:
                time.sleep(delay)
            payload = b'{"ok": true}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _listen(receiver_handler: Any) -> ThreadingHTTPServer:
    ports = list(PORTS)
    random.shuffle(ports)
    for port in ports[:200]:
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), receiver_handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free port in 25000-25999")


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    receiver = Receiver(port=0)
    server = _listen(_handler(receiver))
    receiver.port = server.server_address[1]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def shop(db):
    return ShopFactory()


@pytest.fixture
def seller(shop):
    return shop.owner


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


def endpoint_for(actor: Any, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    return services.endpoint_create(actor=actor, url=url, events=events, description=description)
