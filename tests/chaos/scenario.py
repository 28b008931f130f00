"""One fault from start to verdict: a fresh stack, buyers signed up and buying, the pipeline
seen flowing end to end, a warm-up, the fault, a spell of load after recovery, the buyers'
last placements answered, the side effects given time to land, then the checker."""

import os
import time
from collections import Counter
from dataclasses import dataclass

from tests.chaos.checks import Observation, Outcome, check
from tests.chaos.faults import Fault, Target
from tests.chaos.load import Catalog, Load
from tests.chaos.processes import wait_until
from tests.chaos.stack import Services, Stack
from tests.chaos.watch import KafkaWatch


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class Knobs:
    """Durations and sizes, from the environment (docs/reliability.md)."""

    fault_seconds: float = _env_float("CHAOS_FAULT_SECONDS", 30)
    buyers: int = int(_env_float("CHAOS_BUYERS", 30))
    warmup_seconds: float = _env_float("CHAOS_WARMUP_SECONDS", 5)
    recovery_seconds: float = _env_float("CHAOS_RECOVERY_SECONDS", 10)
    # Side effects are waited for while they keep coming, and this long after the last one.
    settle_seconds: float = _env_float("CHAOS_SETTLE_SECONDS", 60)
    # A client retries one placement this long; above the 60 s a stale idempotency lock lives.
    patience_seconds: float = _env_float("CHAOS_CLIENT_PATIENCE_SECONDS", 90)
    think_seconds: float = _env_float("CHAOS_THINK_SECONDS", 0.5)


PIPELINE_TIMEOUT = 60.0  # first order through API, relay, Kafka, worker and SMTP
QUIET_SECONDS = 3.0  # no new e-mail for this long: the side effects have landed
SETTLE_CAP = 900.0


def run_fault(
    fault: Fault, services: Services, catalog: Catalog, run_id: str, knobs: Knobs
) -> Outcome:
    services.smtp.clear()
    stack = Stack(services, run_id)
    watch = KafkaWatch(services.kafka.bootstrap, stack.topic)
    load = Load(
        stack.base_url,
        catalog,
        buyers=knobs.buyers,
        patience=knobs.patience_seconds,
        think=knobs.think_seconds,
    )
    try:
        stack.start()
        watch.start()
        load.sign_up(run_id)
        load.start()
        wait_until(
            lambda: watch.placed() and services.smtp.received(),
            timeout=PIPELINE_TIMEOUT,
            what="an order through to Kafka and the SMTP sink",
        )
        time.sleep(knobs.warmup_seconds)
        window = fault.inject(Target(services, stack, load, watch), knobs.fault_seconds)
        time.sleep(knobs.recovery_seconds)
        load.stop()
        _settle(load, watch, services, knobs.settle_seconds)
        seen = Observation(
            fault=fault.name,
            window=window,
            calls=load.calls,
            purchases=load.purchases,
            kafka_arrivals=watch.arrivals(),
            mails=services.smtp.received(),
            snapshot=stack.snapshot(),
            exited=stack.exited(),
        )
    except Exception as exc:
        raise AssertionError(f"{fault.name}: {exc}\n{stack.logs()}") from exc
    finally:
        load.stop()
        watch.stop()
        stack.stop()
    return check(
        seen,
        server_errors_allowed_while_down=fault.server_errors_allowed_while_down,
        resume_limit=fault.resume_limit,
        kafka_lag_limit=fault.kafka_lag_limit,
    )


def _settle(load: Load, watch: KafkaWatch, services: Services, idle_timeout: float) -> None:
    """Wait until every order a client saw placed is in Kafka and has its two e-mails, and no
    e-mail has come for QUIET_SECONDS (a late duplicate would). Stop waiting once nothing new has
    reached Kafka or the SMTP sink for `idle_timeout` seconds, or after SETTLE_CAP: what is
    missing then is missing, and the checker counts it."""
    orders = {
        order["number"]: order["id"]
        for purchase in load.purchases
        if purchase.checkout is not None
        for order in purchase.checkout["orders"]
    }
    progress: tuple[int, int] | None = None
    changed = time.monotonic()
    give_up = changed + SETTLE_CAP
    while time.monotonic() < give_up:
        mails, in_kafka = services.smtp.received(), watch.placed()
        if (len(mails), len(in_kafka)) != progress:
            progress, changed = (len(mails), len(in_kafka)), time.monotonic()
        still = time.monotonic() - changed
        mailed = Counter(word for mail in mails for word in mail.subject.split())
        landed = all(mailed[n] >= 2 and oid in in_kafka for n, oid in orders.items())
        if (landed and still >= QUIET_SECONDS) or still >= idle_timeout:
            return
        time.sleep(0.2)
