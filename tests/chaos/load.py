"""Concurrent buyers driving the real HTTP API as a careful client would.

Each buyer browses anonymously (product list and detail), adds one or two variants to its cart
and places the cart with `POST /orders` under a fresh `Idempotency-Key`. A POST that gets no
answer (connection cut, timeout), a 5xx, a 429 or a 409 `idempotency.in_progress` is sent again
with the same key and body after a short backoff (honouring `Retry-After`), until it is answered
or the client's patience runs out. Every request is recorded as a `Call`; every placement as a
`Purchase` holding its calls and, once it got its 201, the checkout it created.
"""

import itertools
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.chaos.processes import wait_until

API = "/api/v1"
PASSWORD = "Chaos-pass-phrase-2026"
ADDRESS = {
    "name": "Chaos Buyer",
    "line1": "1 Market Street",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
    "phone": "+1 555 010 0000",
}
TIMEOUT = (3.0, 30.0)  # connect, read: longer than the server's own waits
IN_PROGRESS = "idempotency.in_progress"


@dataclass(frozen=True)
class Call:
    kind: str  # signup, list, detail, cart, order
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer (connection refused or cut, timeout)
    code: str = ""  # the problem+json `code`, or the transport error's name

    @property
    def server_error(self) -> bool:
        return self.status is not None and self.status >= 500

    @property
    def retryable(self) -> bool:
        return (
            self.status is None
            or self.status >= 500
            or self.status == 429
            or (self.status == 409 and self.code == IN_PROGRESS)
        )


@dataclass
class Purchase:
    buyer: str
    key: str
    started: float  # time.monotonic() of the first attempt: nothing was committed before it
    calls: list[Call] = field(default_factory=list)
    checkout: dict[str, Any] | None = None  # the 201 body (or its replay)
    placed_at: float | None = None  # when the client got it

    @property
    def last(self) -> Call:
        return self.calls[-1]

    def in_progress_wait(self) -> float:
        """The longest stretch during which the key was refused as still in progress."""
        longest, since = 0.0, None
        for call in self.calls:
            if call.status == 409 and call.code == IN_PROGRESS:
                since = call.started if since is None else since
                longest = max(longest, call.ended - since)
            else:
                since = None
        return longest


@dataclass(frozen=True)
class Catalog:
    """What the template database was seeded with (tests.chaos.probe seed)."""

    shops: list[dict[str, str]]  # slug, code
    variants: list[dict[str, str]]  # id, shop
    products: list[str]


class Load:
    def __init__(
        self, base_url: str, catalog: Catalog, *, buyers: int, patience: float, think: float
    ) -> None:
        self.base_url = base_url
        self.catalog = catalog
        self.buyers = buyers
        self.patience = patience
        self.think = think
        self.calls: list[Call] = []
        self.purchases: list[Purchase] = []
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()  # kind -> requests awaiting their answer
        self._stop = threading.Event()
        self._going = threading.Event()  # cleared: nobody sends a new request
        self._going.set()
        self._threads: list[threading.Thread] = []
        self._tokens: list[tuple[str, str]] = []  # (email, access token)
        self._codes = {shop["slug"]: shop["code"] for shop in catalog.shops}

    # --- driving

    def sign_up(self, prefix: str) -> None:
        """Create the buyers' accounts through the API (before any fault)."""
        emails = [f"{prefix}-buyer{n}@chaos.example" for n in range(self.buyers)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            self._tokens = list(zip(emails, pool.map(self._sign_up, emails), strict=True))

    def _sign_up(self, email: str) -> str:
        body = {"email": email, "password": PASSWORD, "name": "Chaos Buyer"}
        response = requests.post(f"{self.base_url}{API}/auth/signup", json=body, timeout=TIMEOUT)
        assert response.status_code == 201, (email, response.status_code, response.text[:300])
        return response.json()["access"]

    def start(self) -> None:
        for index, (email, token) in enumerate(self._tokens):
            thread = threading.Thread(
                target=self._buyer, args=(index, email, token), name=f"buyer-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """No new purchases; each buyer finishes (or gives up) the one it is placing."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def pause(self) -> None:
        """Send no new request, and return once every request sent has its answer."""
        with self._lock:
            self._going.clear()
        wait_until(lambda: not self.in_flight(), timeout=TIMEOUT[1] + 5, what="a lull")

    def resume(self) -> None:
        self._going.set()

    def in_flight(self, kind: str | None = None) -> int:
        with self._lock:
            return self._in_flight[kind] if kind else self._in_flight.total()

    def placed_since(self, moment: float) -> int:
        """How many placements got their 201 after `moment`."""
        with self._lock:
            return sum(p.placed_at is not None and p.placed_at > moment for p in self.purchases)

    # --- one buyer

    def _buyer(self, index: int, email: str, token: str) -> None:
        rng = random.Random(index)
        anonymous = requests.Session()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while not self._stop.is_set():
            self._browse(anonymous, rng)
            shops = self._fill_cart(session, rng)
            if shops:
                self._place(session, email, shops, rng)
            self._stop.wait(rng.uniform(0, self.think))

    def _browse(self, session: requests.Session, rng: random.Random) -> None:
        self._send(session, "list", "GET", f"/products?page={rng.randint(1, 3)}&page_size=20")
        self._send(session, "detail", "GET", f"/products/{rng.choice(self.catalog.products)}")

    def _fill_cart(self, session: requests.Session, rng: random.Random) -> set[str]:
        """Add one or two variants; the shops they belong to, or nothing if an add failed."""
        shops = set()
        for variant in rng.sample(self.catalog.variants, rng.randint(1, 2)):
            body = {"variant_id": variant["id"], "quantity": rng.randint(1, 2)}
            calls, _ = self._until_answered(session, "cart", "/cart/items", body)
            if calls[-1].status not in (200, 201):
                return set()
            shops.add(variant["shop"])
        return shops

    def _place(
        self, session: requests.Session, email: str, shops: set[str], rng: random.Random
    ) -> None:
        body: dict[str, Any] = {"shipping_address": ADDRESS}
        if rng.random() < 0.5:
            body["discounts"] = [{"shop": slug, "code": self._codes[slug]} for slug in shops]
        purchase = Purchase(buyer=email, key=str(uuid.uuid4()), started=time.monotonic())
        with self._lock:
            self.purchases.append(purchase)
        calls, response = self._until_answered(session, "order", "/orders", body, purchase.key)
        purchase.calls = calls
        if response is not None and response.status_code == 201:
            purchase.checkout = response.json()
            purchase.placed_at = calls[-1].ended

    # --- HTTP

    def _until_answered(
        self,
        session: requests.Session,
        kind: str,
        path: str,
        body: dict[str, Any],
        key: str | None = None,
    ) -> tuple[list[Call], requests.Response | None]:
        """POST with one Idempotency-Key until a final answer or the end of the patience."""
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        give_up = time.monotonic() + self.patience
        calls: list[Call] = []
        for attempt in itertools.count():
            call, response = self._send(session, kind, "POST", path, body, headers)
            calls.append(call)
            if not call.retryable or time.monotonic() > give_up:
                break
            time.sleep(_backoff(attempt, response))
        return calls, response

    def _enter(self, kind: str) -> None:
        """Count a request in flight, once no pause holds it back."""
        while True:
            self._going.wait()
            with self._lock:
                if self._going.is_set():
                    self._in_flight[kind] += 1
                    return

    def _send(
        self,
        session: requests.Session,
        kind: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Call, requests.Response | None]:
        self._enter(kind)
        started = time.monotonic()
        try:
            response = session.request(
                method, f"{self.base_url}{API}{path}", json=body, headers=headers, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            call = Call(kind, started, time.monotonic(), None, type(exc).__name__)
            response = None
        else:
            call = Call(kind, started, time.monotonic(), response.status_code, _code(response))
        with self._lock:
            self._in_flight[kind] -= 1
            self.calls.append(call)
        return call, response


def _code(response: requests.Response) -> str:
    if response.status_code < 400 or "json" not in response.headers.get("Content-Type", ""):
        return ""
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def _backoff(attempt: int, response: requests.Response | None) -> float:
    """Exponential from 0.25 s up to 2 s with jitter; a Retry-After (up to 5 s) wins."""
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    if retry_after.isdigit():
        return min(float(retry_after), 5.0)
    return random.uniform(0.5, 1.0) * min(2.0, 0.25 * 2**attempt)
