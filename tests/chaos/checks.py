"""The one checker every fault ends with: what the clients saw, what the database holds, what
reached Kafka and the SMTP sink, compared after recovery. Every rule is evaluated (a failure
does not hide the next), and the numbers go to the suite's summary table."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.load import IN_PROGRESS, Call, Purchase
from tests.chaos.services import Mail

# Longest a key may be refused as "in progress": enough for a concurrent duplicate to wait for
# the first request, far below the 60 s of a lock left behind by a killed worker.
IN_PROGRESS_LIMIT = 5.0


@dataclass(frozen=True)
class Window:
    """When the fault was injected, when the dependency was back, and the moments from which
    event delivery must resume (the recovery, or each kill of the relay)."""

    started: float
    recovered: float
    resume_from: tuple[float, ...]
    note: str = ""  # what exactly was hit, for the summary


@dataclass(frozen=True)
class Observation:
    fault: str
    window: Window
    calls: list[Call]
    purchases: list[Purchase]
    kafka_arrivals: dict[str, list[float]]  # event id -> arrival times
    mails: list[Mail]
    snapshot: dict[str, Any]  # tests.chaos.probe snapshot
    exited: list[str]  # app processes that died on their own


@dataclass
class Outcome:
    fault: str
    note: str = ""
    requests: int = 0
    server_errors: int = 0
    server_errors_after_recovery: int = 0
    no_answer: int = 0  # connection refused or cut, timeouts
    orders: int = 0
    checkouts: int = 0
    unresolved: int = 0  # placements whose client never got its 201
    orders_cut: int = 0  # order requests that got no answer (worker killed under them)
    notifications_missing: int = 0
    notifications_duplicated: int = 0
    emails_missing: int = 0
    emails_duplicated: int = 0
    kafka_missing: int = 0
    dead_letters: int = 0
    invariant_violations: int = 0
    resume_seconds: float | None = None
    max_kafka_lag: float = 0.0
    max_in_progress_wait: float = 0.0
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def explain(self) -> str:
        return f"{self.fault}: {len(self.failures)} failed check(s):\n- " + "\n- ".join(
            self.failures
        )


def check(
    seen: Observation,
    *,
    server_errors_allowed_while_down: bool,
    resume_limit: float | None,
    kafka_lag_limit: float | None,
) -> Outcome:
    outcome = Outcome(seen.fault, seen.window.note)
    if seen.exited:
        outcome.fail(f"died during the fault and stayed down: {', '.join(seen.exited)}")
    _requests(seen, outcome, server_errors_allowed_while_down)
    _placements(seen, outcome)
    _kafka(seen, outcome, resume_limit, kafka_lag_limit)
    _notifications(seen, outcome)
    _emails(seen, outcome)
    _invariants(seen, outcome)
    _dead_letters(seen, outcome)
    return outcome


def _requests(seen: Observation, outcome: Outcome, allowed_while_down: bool) -> None:
    errors = [c for c in seen.calls if c.server_error]
    after = [c for c in errors if c.started >= seen.window.recovered]
    outcome.requests = len(seen.calls)
    outcome.server_errors = len(errors)
    outcome.server_errors_after_recovery = len(after)
    outcome.no_answer = sum(c.status is None for c in seen.calls)
    outcome.orders_cut = sum(c.status is None and c.kind == "order" for c in seen.calls)
    counted = after if allowed_while_down else errors
    if counted:
        when = "after recovery" if allowed_while_down else "in all"
        outcome.fail(f"{len(counted)} 5xx answers {when} ({_by_kind(counted)})")


def _by_kind(calls: list[Call]) -> str:
    counts = Counter(f"{c.kind} {c.status}" for c in calls)
    return ", ".join(f"{n} x {what}" for what, n in counts.most_common())


def _placements(seen: Observation, outcome: Outcome) -> None:
    checkouts = seen.snapshot["checkouts"]
    outcome.orders = len(seen.snapshot["orders"])
    outcome.checkouts = len(checkouts)
    per_key = Counter((c["buyer__email"], c["idempotency_key"]) for c in checkouts)
    doubled = [key for key, n in per_key.items() if n > 1]
    if doubled:
        outcome.fail(f"{len(doubled)} Idempotency-Keys have more than one checkout")

    purchases = {(p.buyer, p.key): p for p in seen.purchases}
    committed_unseen = []
    for checkout in checkouts:
        purchase = purchases.get((checkout["buyer__email"], checkout["idempotency_key"]))
        if purchase is None:
            outcome.fail(f"checkout {checkout['id']} has a key no client sent")
        elif purchase.checkout is None:
            committed_unseen.append(purchase)
        elif purchase.checkout["id"] != checkout["id"]:
            outcome.fail(f"key {purchase.key}: the client's 201 names another checkout")
    if committed_unseen:
        outcome.fail(
            f"{len(committed_unseen)} checkouts committed whose client never got the 201 "
            f"(answers: {_answers(committed_unseen)})"
        )

    stored = {c["id"] for c in checkouts}
    phantom = [p for p in seen.purchases if p.checkout and p.checkout["id"] not in stored]
    if phantom:
        outcome.fail(f"{len(phantom)} clients got a 201 for a checkout the database lacks")
    unresolved = [p for p in seen.purchases if p.checkout is None]
    outcome.unresolved = len(unresolved)
    if unresolved:
        outcome.fail(
            f"{len(unresolved)} placements never got their 201 (answers: {_answers(unresolved)})"
        )
    outcome.max_in_progress_wait = max((p.in_progress_wait() for p in seen.purchases), default=0)
    if outcome.max_in_progress_wait > IN_PROGRESS_LIMIT:
        stuck = [p for p in seen.purchases if p.in_progress_wait() > IN_PROGRESS_LIMIT]
        outcome.fail(
            f"{len(stuck)} keys refused 409 {IN_PROGRESS} for more than {IN_PROGRESS_LIMIT:.0f}"
            f" s (longest {outcome.max_in_progress_wait:.1f} s)"
        )


def _answers(purchases: list[Purchase]) -> str:
    """What those clients were told, e.g. "12 x 500, 1 x no answer"."""
    counts = Counter(
        str(c.status) if c.status is not None else "no answer" for p in purchases for c in p.calls
    )
    return ", ".join(f"{n} x {what}" for what, n in counts.most_common()) or "none yet"


def delivery_resumed(
    moment: float, purchases: list[Purchase], placed: dict[str, float]
) -> float | None:
    """When the first order placed after `moment` (its first attempt sent after it) reached
    Kafka (`placed`: order id -> first arrival of its order.placed event). Events already on
    their way at `moment` do not count: only a relay working after it delivers these."""
    return min(
        (
            placed[order["id"]]
            for purchase in purchases
            if purchase.checkout is not None and purchase.started > moment
            for order in purchase.checkout["orders"]
            if order["id"] in placed
        ),
        default=None,
    )


def _kafka(
    seen: Observation, outcome: Outcome, resume_limit: float | None, lag_limit: float | None
) -> None:
    events = seen.snapshot["order_events"]
    missing = [e for e in events if e["id"] not in seen.kafka_arrivals]
    outcome.kafka_missing = len(missing)
    if missing:
        outcome.fail(
            f"{len(missing)} of {len(events)} order events never reached Kafka "
            f"({seen.snapshot['events_pending']} events still unpublished in the outbox)"
        )
    placed = {
        e["key"]: min(seen.kafka_arrivals[e["id"]])
        for e in events
        if e["type"] == "order.placed" and e["id"] in seen.kafka_arrivals
    }
    lags = [
        placed[order["id"]] - purchase.placed_at
        for purchase in seen.purchases
        if purchase.checkout is not None and purchase.placed_at is not None
        for order in purchase.checkout["orders"]
        if order["id"] in placed
    ]
    outcome.max_kafka_lag = max([0.0, *lags])
    if lag_limit is not None and outcome.max_kafka_lag > lag_limit:
        late = sum(lag > lag_limit for lag in lags)
        outcome.fail(
            f"{late} order events reached Kafka more than {lag_limit:.0f} s after the client's 201"
            f" (longest {outcome.max_kafka_lag:.1f} s)"
        )

    waits = []
    for moment in seen.window.resume_from:
        resumed = delivery_resumed(moment, seen.purchases, placed)
        if resumed is None:
            outcome.fail("event delivery never resumed after the fault")
            return
        waits.append(resumed - moment)
    outcome.resume_seconds = max(waits)
    if resume_limit is not None and outcome.resume_seconds > resume_limit:
        outcome.fail(
            f"event delivery resumed {outcome.resume_seconds:.1f} s after the fault "
            f"(limit {resume_limit:.0f} s)"
        )


def _expected_recipients(seen: Observation) -> Counter:
    """order.placed tells the buyer and the seller (apps/notifications/rules.py)."""
    return Counter(
        (order["id"], recipient)
        for order in seen.snapshot["orders"]
        for recipient in (order["buyer_id"], order["shop__owner_id"])
    )


def _compare(kind: str, expected: Counter, actual: Counter, outcome: Outcome) -> tuple[int, int]:
    """Fail for expected items absent and for copies beyond the first; (missing, duplicated)."""
    missing = [item for item in expected if actual[item] == 0]
    duplicated = [item for item, n in actual.items() for _ in range(n - 1)]
    if missing or duplicated:
        outcome.fail(
            f"{kind}: {len(missing)} of {len(expected)} missing{_examples(missing)}, "
            f"{len(duplicated)} duplicated{_examples(duplicated)}"
        )
    return len(missing), len(duplicated)


def _examples(items: list[tuple[str, str]]) -> str:
    return f" (e.g. {'; '.join(' '.join(item) for item in items[:3])})" if items else ""


def _notifications(seen: Observation, outcome: Outcome) -> None:
    expected = _expected_recipients(seen)
    actual = Counter(
        (n["data__order_id"], n["recipient_id"])
        for n in seen.snapshot["order_placed_notifications"]
    )
    outcome.notifications_missing, outcome.notifications_duplicated = _compare(
        "order.placed notifications (order, recipient)", expected, actual, outcome
    )


def _emails(seen: Observation, outcome: Outcome) -> None:
    expected = Counter(
        (email.lower(), order["number"])
        for order in seen.snapshot["orders"]
        for email in (order["buyer__email"], order["shop__owner__email"])
    )
    numbers = {number for _, number in expected}
    actual = Counter(
        (mail.recipient, word)
        for mail in seen.mails
        for word in mail.subject.split()
        if word in numbers
    )
    outcome.emails_missing, outcome.emails_duplicated = _compare(
        "order.placed e-mails (recipient, order)", expected, actual, outcome
    )


def _invariants(seen: Observation, outcome: Outcome) -> None:
    snapshot = seen.snapshot
    violations = []
    open_lines = snapshot["open_line_quantities"]
    for item in snapshot["stock"]:
        variant, on_hand, reserved = item["variant_id"], item["on_hand"], item["reserved"]
        if not 0 <= reserved <= on_hand:
            violations.append(f"variant {variant}: reserved {reserved}, on hand {on_hand}")
        if reserved != open_lines.get(variant, 0):
            violations.append(
                f"variant {variant}: reserved {reserved} but open order lines hold "
                f"{open_lines.get(variant, 0)}"
            )
    violations += [
        f"checkout {c['id']} has no order" for c in snapshot["checkouts"] if not c["orders_count"]
    ]
    violations += [
        f"discount {d['code']}: uses_count {d['uses_count']}, {d['redemptions_open']} redemptions"
        for d in snapshot["discounts"]
        if d["uses_count"] != d["redemptions_open"]
    ]
    outcome.invariant_violations = len(violations)
    if violations:
        outcome.fail(f"{len(violations)} invariant violations: {'; '.join(violations[:5])}")


def _dead_letters(seen: Observation, outcome: Outcome) -> None:
    letters = {q: tasks for q, tasks in seen.snapshot["dead_letters"].items() if tasks}
    outcome.dead_letters = sum(len(tasks) for tasks in letters.values())
    if letters:
        described = "; ".join(
            f"{queue}.dlq: " + ", ".join(f"{n} x {t}" for t, n in Counter(tasks).most_common())
            for queue, tasks in letters.items()
        )
        outcome.fail(f"{outcome.dead_letters} dead letters ({described})")


SUMMARY_COLUMNS = (
    ("fault", lambda o: o.fault),
    ("requests", lambda o: o.requests),
    ("5xx (after recovery)", lambda o: f"{o.server_errors} ({o.server_errors_after_recovery})"),
    ("no answer", lambda o: o.no_answer),
    ("orders", lambda o: o.orders),
    ("no 201", lambda o: o.unresolved),
    ("notifications missing/dup",
     lambda o: f"{o.notifications_missing}/{o.notifications_duplicated}"),
    ("e-mails missing/dup", lambda o: f"{o.emails_missing}/{o.emails_duplicated}"),
    ("Kafka missing", lambda o: o.kafka_missing),
    ("dead letters", lambda o: o.dead_letters),
    ("invariants broken", lambda o: o.invariant_violations),
    ("resume s", lambda o: "-" if o.resume_seconds is None else f"{o.resume_seconds:.1f}"),
    ("max Kafka lag s", lambda o: f"{o.max_kafka_lag:.1f}"),
    ("longest 409 in progress s", lambda o: f"{o.max_in_progress_wait:.1f}"),
    ("checks failed", lambda o: len(o.failures)),
)  # fmt: skip


def summary_table(outcomes: list[Outcome]) -> list[str]:
    """A markdown table, one row per fault."""
    header = [name for name, _ in SUMMARY_COLUMNS]
    rows = [[str(value(o)) for _, value in SUMMARY_COLUMNS] for o in outcomes]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
