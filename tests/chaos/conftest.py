"""Fixtures of the fault-injection suite (`make chaos`; docs/reliability.md).

`chaos_services` (session) starts the private dependencies in a temporary directory and removes
it at the end; `chaos_catalog` migrates and seeds the template database; `chaos` runs one fault
on a fresh stack and records its outcome for the summary printed at the end of the run.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos.checks import Outcome, summary_table
from tests.chaos.faults import Fault
from tests.chaos.load import Catalog
from tests.chaos.processes import Ports
from tests.chaos.scenario import Knobs, run_fault
from tests.chaos.services import KafkaBroker, PostgresCluster, RabbitNode, RedisServer, SmtpSink
from tests.chaos.stack import Services, prepare_template

OUTCOMES = pytest.StashKey[list[Outcome]]()


def _root() -> tuple[Path, bool]:
    """The working directory and whether to remove it: CHAOS_LOG_DIR keeps the logs."""
    kept = os.environ.get("CHAOS_LOG_DIR", "")
    if kept:
        root = Path(kept).resolve()
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="chaos-", dir=root)), False
    return Path(tempfile.mkdtemp(prefix="chaos-")), True


@pytest.fixture(scope="session")
def chaos_services() -> Iterator[Services]:
    root, remove = _root()
    root.chmod(0o711)  # the PostgreSQL server runs as another user under it
    ports = Ports(os.environ.get("CHAOS_PORT_RANGE", ""))
    with contextlib.ExitStack() as cleanup:
        if remove:
            cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        services = Services(
            root=root,
            ports=ports,
            redis=RedisServer(ports, root),
            postgres=PostgresCluster(ports, root),
            rabbitmq=RabbitNode(ports, root),
            kafka=KafkaBroker(ports, root),
            smtp=SmtpSink(ports.take()),
        )
        for service in (
            services.redis,
            services.postgres,
            services.rabbitmq,
            services.kafka,
            services.smtp,
        ):
            cleanup.callback(service.stop)
            service.start()
        yield services


@pytest.fixture(scope="session")
def chaos_catalog(chaos_services: Services) -> Catalog:
    return Catalog(**prepare_template(chaos_services))


@pytest.fixture
def chaos(
    request: pytest.FixtureRequest, chaos_services: Services, chaos_catalog: Catalog
) -> Callable[[Fault], Outcome]:
    """`chaos(fault)`: run the fault on a fresh stack; its outcome joins the summary."""
    run_id = request.node.name.removeprefix("test_")

    def run(fault: Fault) -> Outcome:
        outcome = run_fault(fault, chaos_services, chaos_catalog, run_id, Knobs())
        request.config.stash.setdefault(OUTCOMES, []).append(outcome)
        return outcome

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config):
    outcomes = config.stash.get(OUTCOMES, [])
    if not outcomes:
        return
    knobs = Knobs()
    terminalreporter.section("fault injection summary")
    terminalreporter.write_line(
        f"{knobs.buyers} buyers, {knobs.fault_seconds:.0f} s per fault "
        f"(CHAOS_FAULT_SECONDS), warm-up {knobs.warmup_seconds:.0f} s, "
        f"{knobs.recovery_seconds:.0f} s of load after recovery"
    )
    lines = summary_table(outcomes)
    for line in lines:
        terminalreporter.write_line(line)
    for outcome in outcomes:
        if outcome.note:
            terminalreporter.write_line(f"- {outcome.fault}: {outcome.note}")
        for failure in outcome.failures:
            terminalreporter.write_line(f"- {outcome.fault}: {failure}")
    report = os.environ.get("CHAOS_REPORT", "")
    if report:
        Path(report).write_text("\n".join(lines) + "\n")
