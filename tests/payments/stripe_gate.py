"""A gate in front of localstripe: an HTTP proxy on a loopback port that forwards every Stripe
call and can hold the PaymentIntent creations (a slow Stripe), run something while one waits, or
answer as Stripe does when it is down (503). The platform reaches it through `STRIPE_API_BASE`,
so every call goes over the network through the real SDK, as in production.

The port comes from `LIVE_SERVER_PORTS` (`27500-27999`: machines shared by several test runs give
each its own range); by default the operating system picks one."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import requests

FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version")
INTENTS = "/v1/payment_intents"


class StripeGate:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.open = threading.Event()  # creations pass while set
        self.open.set()
        self.waiting = threading.Event()  # set when a creation arrives
        # Run (once) when a creation arrives, before it goes on to Stripe: what happens elsewhere
        # while the platform waits on Stripe. Its return value is kept in `held_result`.
        self.while_held: Callable[[], Any] | None = None
        self.down = False  # every call answers 503 as Stripe's API does when it is unavailable
        self.created: list[str] = []  # ids of the intents created through the gate
        self.cancels: list[str] = []  # paths of the cancel calls that reached Stripe
        self.held_result: Any = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def hold(self) -> None:
        """From now on, an intent creation waits until `release()`."""
        self.waiting.clear()
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self.down:
            self._answer(handler, 503, _UNAVAILABLE)
            return
        creating = handler.command == "POST" and path == INTENTS
        if creating:
            self.waiting.set()
            if self.while_held is not None:
                run, self.while_held = self.while_held, None
                self.held_result = run()
            self.open.wait(timeout=60)
        response = requests.request(
            handler.command,
            f"{self.upstream}{handler.path}",
            data=body or None,
            headers={h: handler.headers[h] for h in FORWARDED_HEADERS if h in handler.headers},
            timeout=30,
        )
        if creating and response.status_code == 200:
            self.created.append(response.json()["id"])
        if path.startswith(INTENTS) and path.endswith("/cancel"):
            self.cancels.append(path)
        self._answer(handler, response.status_code, response.content)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, content: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    @contextmanager
    def serving(self) -> Iterator[StripeGate]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate._handle(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _bind(Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.open.set()
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)


# Stripe's body for an unavailable API (a 503 the SDK reports as an APIError).
_UNAVAILABLE = orjson.dumps(
    {"error": {"type": "api_error", "message": "The Stripe API is temporarily unavailable."}}
)


def _bind(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    spec = os.environ.get("LIVE_SERVER_PORTS", "")
    if not spec:
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)
    first, _, last = spec.partition("-")
    for port in range(int(last or first), int(first) - 1, -1):  # from the top of the range
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            continue
    raise RuntimeError(f"no free port in LIVE_SERVER_PORTS={spec}")
