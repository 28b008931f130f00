"""Checkout benchmark: orders placed per second through POST /api/v1/orders.

Scenarios, all with 50 concurrent buyers (wrk -c50, one access token per buyer, see
bench/lua/checkout.lua):

- `checkout`: every order is one unit of one of 100 variants with ample stock. Target: at least
  80 orders/s on a 2-core machine with PostgreSQL, with p50/p99 latency. The API box alone:
  gunicorn, PostgreSQL, Redis and RabbitMQ on the machine, the Celery worker paused during the
  runs, as if it ran on worker machines of its own (docs/architecture.md: web and worker processes
  scale separately). Every placement still writes its outbox event and schedules the relay;
  the worker then delivers what the runs left, and the row says how long that took. Median of
  BENCH_CHECKOUT_ROUNDS runs (3).
- `checkout_one_box`: the same load with the worker running alongside (nice 19), relaying the
  events and sending the notification emails while the API places orders: what one 2-core box
  running everything sustains. Reported, no target.
- `checkout_hot`: every buyer wants the same variant, which has HOT_STOCK units. Reported: how
  many orders succeeded (must be exactly HOT_STOCK: no oversell), how many were refused with
  409 `inventory.insufficient_stock`, anything else (must be 0), and the request rate.

`python -m bench.checkout` runs just these (database, seed and server as in bench/run.py);
bench/run.py runs them after its read scenarios (`BENCH_ONLY=checkout` for only these).
Data setup runs in a subprocess with config.settings.bench: `python -m bench.checkout setup`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUYERS = 50
VARIANTS = 100
AMPLE_STOCK = 1_000_000
HOT_STOCK = int(os.environ.get("BENCH_HOT_STOCK", "300"))
TARGET_ORDERS_PER_SECOND = 80.0
DURATION = os.environ.get("BENCH_CHECKOUT_DURATION", "10s")
LUA = ROOT / "bench" / "lua" / "checkout.lua"
NAMES = ("checkout", "checkout_one_box", "checkout_hot")
ROUNDS = int(os.environ.get("BENCH_CHECKOUT_ROUNDS", "3"))


# --- data (runs inside Django, config.settings.bench) -----------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()


def setup(out: Path) -> None:
    """50 buyers with fresh access tokens, 100 variants with ample stock and one hot variant
    with HOT_STOCK available units (reset on every run). Writes tokens, variants and hot."""
    _django()
    from django.db.models import F

    from apps.catalog.models import Product, ProductVariant
    from apps.inventory.models import StockItem
    from apps.users.models import User
    from apps.users.services.sessions import session_tokens_issue

    buyers = []
    for index in range(BUYERS):
        user, created = User.objects.get_or_create(
            email=f"bench-buyer-{index}@example.com", defaults={"name": f"Buyer {index}"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        buyers.append(user)
    variants = list(
        ProductVariant.objects.filter(
            is_active=True, product__status=Product.Status.PUBLISHED, stock__isnull=False
        )
        .order_by("sku")
        .values_list("pk", flat=True)[: VARIANTS + 1]
    )
    if len(variants) < VARIANTS + 1:
        sys.exit(f"only {len(variants)} purchasable variants in the bench database")
    ample, hot = variants[:VARIANTS], variants[VARIANTS]
    # Bench-only stock top-up straight in the table (no ledger rows needed here).
    StockItem.objects.filter(variant_id__in=ample).update(on_hand=F("reserved") + AMPLE_STOCK)
    StockItem.objects.filter(variant_id=hot).update(on_hand=F("reserved") + HOT_STOCK)
    out.mkdir(parents=True, exist_ok=True)
    # A session per buyer, as a sign-in starts one: tokens without a session are refused.
    tokens = [session_tokens_issue(user=user)["access"] for user in buyers]
    (out / "tokens").write_text("".join(f"{token}\n" for token in tokens))
    (out / "variants").write_text("".join(f"{v}\n" for v in ample))
    (out / "hot").write_text(f"{hot}\n")


def outbox_pending() -> int:
    _django()
    from apps.events.models import OutboxEvent

    return OutboxEvent.objects.filter(published_at=None).count()


def _wait_for_relay(timeout: float = 300.0) -> float | None:
    """Seconds until every event is delivered by the worker (None: not within `timeout`)."""
    import time

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if int(_django_command("outbox-pending").strip()) == 0:
            return round(time.monotonic() - start, 1)
        time.sleep(1)
    return None


def queue_depth(queue: str) -> int:
    """Messages waiting in a broker queue (0 if it does not exist)."""
    _django()
    from config.celery import app

    with app.connection_for_write() as connection:
        try:
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
        except Exception:
            return 0


def hot_state(variant_id: str) -> dict[str, int]:
    _django()
    from apps.inventory.models import StockItem

    item = StockItem.objects.get(variant_id=variant_id)
    return {"on_hand": item.on_hand, "reserved": item.reserved, "available": item.available}


# --- measuring (runs outside Django) -----------------------------------------------------------


def _django_command(*args: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench"}
    return subprocess.run(
        [sys.executable, "-m", "bench.checkout", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# --- CPU accounting (Linux /proc): what one order costs each process, whatever else runs -------


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by one process; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _postgres_backends(database: str) -> list[int]:
    """Backends serving `database` (their title is `postgres: <cluster>: <user> <db> ...`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used during a run by the API server, the relay worker and the PostgreSQL
    backends of the bench database. On a shared machine throughput swings with what else runs;
    CPU per order does not, so it is what compares two versions of the code."""

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups  # name -> callable returning the pids to count

    def snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu_of(pid) for pid in pids()} for name, pids in self.groups.items()}

    @staticmethod
    def used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict:
        return {
            name: round(
                sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items()), 2
            )
            for name in after
        }


def _wrk(wrk: str, base_url: str, workdir: Path, variants_file: Path, duration: str) -> dict:
    env = {
        **os.environ,
        "BENCH_TOKENS": str(workdir / "tokens"),
        "BENCH_VARIANTS": str(variants_file),
        "BENCH_THREADS": "2",
    }
    command = [
        wrk, "-t2", f"-c{BUYERS}", f"-d{duration}", "--latency", "--timeout", "10s",
        "-s", str(LUA), base_url,
    ]  # fmt: skip
    output = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, timeout=600
    ).stdout
    match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    result = json.loads(match.group(1))
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds
    result["orders_per_s"] = result["created"] / seconds
    return result


def _row(name: str, label: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "orders_per_s": round(result["orders_per_s"], 1),
        "rps": round(result["rps"], 1),
        "p50_ms": round(result["p50_us"] / 1000, 2),
        "p99_ms": round(result["p99_us"] / 1000, 2),
        "requests": result["requests"],
        "created": result["created"],
        "conflict": result["conflict"],
        "other": result["other"],
        "socket_errors": result["socket_errors"],
    }


def _with_cpu(row: dict[str, Any], used: dict[str, float]) -> dict[str, Any]:
    """CPU seconds of each process group during the run, and ms per request."""
    row["cpu_s"] = used
    requests = max(row["requests"], 1)
    row["cpu_ms_per_request"] = {name: round(s * 1000 / requests, 2) for name, s in used.items()}
    return row


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ample_row(
    name: str, label: str, runs: list[tuple[dict[str, Any], dict[str, float]]]
) -> dict[str, Any]:
    """The row of one or more runs over the ample variants: medians of the runs."""
    rows = [_with_cpu(_row(name, label, result), used) for result, used in runs]
    row = rows[len(rows) // 2] if len(rows) == 1 else dict(rows[0])
    for key in ("orders_per_s", "rps", "p50_ms", "p99_ms"):
        row[key] = round(_median([r[key] for r in rows]), 2)
    for key in ("requests", "created", "conflict", "other", "socket_errors"):
        row[key] = sum(r[key] for r in rows)
    row["cpu_ms_per_request"] = {
        group: round(_median([r["cpu_ms_per_request"][group] for r in rows]), 2)
        for group in rows[0]["cpu_ms_per_request"]
    }
    row["runs"] = [r["orders_per_s"] for r in rows]
    return row


def measure(
    wrk: str,
    base_url: str,
    workdir: Path,
    duration: str,
    only: set[str],
    meter: CpuMeter | None = None,
    worker: Worker | None = None,
) -> list[dict]:
    """Run the selected checkout scenarios against a running server; returns result rows (with
    the CPU each process group used during the measured runs when a `meter` is given). The
    `worker` is paused while the API-box scenarios run and resumed to deliver afterwards."""
    meter = meter or CpuMeter({})
    from bench.run import log

    def paused() -> contextlib.AbstractContextManager[None]:
        return worker.paused() if worker is not None else contextlib.nullcontext()

    def timed(variants: Path) -> tuple[dict[str, Any], dict[str, float]]:
        before = meter.snapshot()
        result = _wrk(wrk, base_url, data, variants, duration)
        return result, meter.used(before, meter.snapshot())

    rows: list[dict] = []
    data = workdir / "checkout"
    _django_command("setup", "--out", str(data))
    log("checkout: 2s warm-up")
    _wrk(wrk, base_url, data, data / "variants", "2s")
    _wait_for_relay()
    if not only or "checkout" in only:
        runs = []
        with paused():
            for round_ in range(1, ROUNDS + 1):
                log(f"checkout {round_}/{ROUNDS}: {duration} at {BUYERS} buyers, worker paused")
                runs.append(timed(data / "variants"))
                log(f"checkout {round_}/{ROUNDS}: {runs[-1][0]['orders_per_s']:.1f} orders/s")
        row = _ample_row(
            "checkout",
            f"checkout, {BUYERS} buyers over {VARIANTS} variants (ample stock), API box "
            f"(worker paused; median of {ROUNDS} runs)",
            runs,
        )
        row["target"] = TARGET_ORDERS_PER_SECOND
        row["met"] = row["orders_per_s"] >= TARGET_ORDERS_PER_SECOND and not row["other"]
        row["relay_drain_s"] = _wait_for_relay()
        row["notification_tasks_left"] = _notification_backlog(worker)
        log(
            f"checkout: {row['orders_per_s']} orders/s (runs {row['runs']}), p50 {row['p50_ms']} "
            f"ms, p99 {row['p99_ms']} ms, {row['other']} unexpected responses; CPU ms per order "
            f"{row['cpu_ms_per_request']}; events delivered {row['relay_drain_s']} s after"
        )
        rows.append(row)
    if not only or "checkout_one_box" in only:
        log(f"checkout_one_box: {duration} at {BUYERS} buyers, worker delivering alongside")
        row = _ample_row(
            "checkout_one_box",
            "same, one box: the worker (nice 19) relaying events and sending notification "
            "emails alongside",
            [timed(data / "variants")],
        )
        row["target"] = None
        row["met"] = None
        row["relay_drain_s"] = _wait_for_relay()
        row["notification_tasks_left"] = _notification_backlog(worker)
        log(f"checkout_one_box: {row['orders_per_s']} orders/s, p99 {row['p99_ms']} ms")
        rows.append(row)
    if not only or "checkout_hot" in only:
        _django_command("setup", "--out", str(data))  # resets the hot variant's stock
        hot = (data / "hot").read_text().strip()
        before = json.loads(_django_command("hot-state", hot))
        log(f"checkout_hot: {duration} at {BUYERS} buyers on one variant with {HOT_STOCK} units")
        with paused():
            result, used = timed(data / "hot")
        row = _with_cpu(
            _row(
                "checkout_hot",
                f"checkout, {BUYERS} buyers on one variant with {HOT_STOCK} units, API box",
                result,
            ),
            used,
        )
        after = json.loads(_django_command("hot-state", hot))
        row["relay_drain_s"] = _wait_for_relay()
        row["notification_tasks_left"] = _notification_backlog(worker)
        row["reserved_delta"] = after["reserved"] - before["reserved"]
        row["available_after"] = after["available"]
        row["target"] = None
        # Exactly the stock sold, the database agrees, nothing but 201 and 409.
        row["met"] = (
            row["created"] == HOT_STOCK == row["reserved_delta"]
            and after["available"] == 0
            and not row["other"]
        )
        log(
            f"checkout_hot: {row['created']} placed, {row['conflict']} refused (409), "
            f"{row['other']} other, {row['rps']} req/s; reserved +{row['reserved_delta']}"
        )
        rows.append(row)
    return rows


def _notification_backlog(worker: Worker | None) -> int | None:
    """Notification tasks (emails, in-app) still queued once the events are delivered; they are
    then dropped, so that the next scenario starts without a backlog for the worker."""
    if worker is None:
        return None
    left = worker.queued("notifications")
    worker.purge()
    return left


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| checkout scenario | orders/s | req/s | p50 ms | p99 ms | 201 | 409 | other "
        "| CPU ms per request: API / PostgreSQL / worker | events delivered after "
        "| notification tasks left then | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        drain = "not drained" if row["relay_drain_s"] is None else f"{row['relay_drain_s']} s"
        if row["name"] == "checkout":
            runs = ", ".join(f"{r:.1f}" for r in row.get("runs", ()))
            check = (
                f"≥ {row['target']:.0f} orders/s {'met' if row['met'] else 'MISSED'} (runs: {runs})"
            )
        elif row["name"] == "checkout_hot":
            check = f"sold {row['created']} of {HOT_STOCK}, reserved +{row['reserved_delta']}: " + (
                "exact" if row["met"] else "MISMATCH"
            )
        else:
            check = "reference"
        cpu = row.get("cpu_ms_per_request") or {}
        cpu_text = " / ".join(str(cpu.get(k, "-")) for k in ("api", "postgres", "relay"))
        left = row.get("notification_tasks_left")
        lines.append(
            f"| {row['label']} | {row['orders_per_s']:.1f} | {row['rps']:.1f} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['created']} | {row['conflict']} | {row['other']} "
            f"| {cpu_text} | {drain} | {'-' if left is None else left} | {check} |"
        )
    return "\n".join(lines)


class Worker:
    """A Celery worker for the event relay and the notifications it causes, on the bench queues:
    placement pays for writing its events, the worker for delivering them, as in production.
    Paused (SIGSTOP) while an API-box scenario runs, so it stands in for worker machines of
    its own; resumed, it delivers what the run left."""

    QUEUES = ("events", "notifications", "default")

    def __init__(self, logfile: Path) -> None:
        self.logfile = logfile
        self.process: subprocess.Popen | None = None
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench"}

    def _celery(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).parent / "celery"), "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            check=False,
            capture_output=True,
            text=True,
        )

    def purge(self) -> None:
        self._celery("purge", "-f", "-Q", ",".join(f"bench-{q}" for q in self.QUEUES))

    def queued(self, queue: str) -> int:
        return int(_django_command("queue-depth", f"bench-{queue}").strip())

    @contextlib.contextmanager
    def paused(self) -> Any:
        import signal

        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> Worker:
        self.purge()  # a backlog left by an earlier run would keep the worker busy in this one
        # Lowest CPU priority: when it runs alongside the API (checkout_one_box) it stands in
        # for a separate worker machine as well as one box allows.
        command = [
            "nice", "-n", "19",
            str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
            "-Q", ",".join(f"bench-{q}" for q in self.QUEUES),
            "--concurrency", "1", "--loglevel", "WARNING",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self.logfile.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.purge()


def run_all(wrk: str, workdir: Path, only: set[str]) -> list[dict]:
    """Start a server whose requests leave event delivery to a worker, start that worker, and
    run the selected checkout scenarios. The database must be prepared (bench/run.py)."""
    from bench import run

    selected = {name for name in only if name in NAMES}
    if only and not selected:
        return []
    os.environ["BENCH_CELERY_EAGER"] = "false"
    try:
        port = run.free_port()
        with (
            run.Server(port, workdir / "gunicorn-checkout.log") as server,
            Worker(workdir / "worker.log") as worker,
        ):
            database = run.DATABASE_URL.rsplit("/", 1)[-1].split("?")[0]
            meter = CpuMeter(
                {
                    "api": lambda: _descendants(server.process.pid),
                    "postgres": lambda: _postgres_backends(database),
                    "relay": lambda: _descendants(worker.process.pid),
                }
            )
            return measure(
                wrk, f"http://127.0.0.1:{port}", workdir, DURATION, selected, meter, worker
            )
    finally:
        os.environ.pop("BENCH_CELERY_EAGER", None)


def write_results(rows: list[dict]) -> str:
    from datetime import UTC, datetime

    from bench import run

    table = markdown(rows)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            **{k: v for k, v in run.environment(0).items() if k not in ("products", "variants")},
            "wrk": f"2 threads, {BUYERS} connections, {DURATION} per scenario",
            "worker": (
                "1 Celery worker (events, notifications), nice 19, on the same machine: paused "
                "during the API-box scenarios, running during checkout_one_box"
            ),
        },
        "checkout": rows,
    }
    run.RESULTS.mkdir(exist_ok=True)
    (run.RESULTS / "checkout.json").write_text(json.dumps(report, indent=2) + "\n")
    (run.RESULTS / "checkout.md").write_text(table + "\n")
    return table


def main() -> None:
    """Standalone: prepare the database, then run only the checkout scenarios."""
    import tempfile

    from bench import run

    wrk = run.wrk_ensure()
    run.database_prepare()
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    with tempfile.TemporaryDirectory(prefix="bench-checkout-") as tmp:
        rows = run_all(wrk, Path(tmp), only)
    sys.stdout.write(write_results(rows) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "setup":
        setup(Path(sys.argv[sys.argv.index("--out") + 1]))
    elif len(sys.argv) > 1 and sys.argv[1] == "outbox-pending":
        sys.stdout.write(f"{outbox_pending()}\n")
    elif len(sys.argv) > 1 and sys.argv[1] == "queue-depth":
        sys.stdout.write(f"{queue_depth(sys.argv[2])}\n")
    elif len(sys.argv) > 1 and sys.argv[1] == "hot-state":
        sys.stdout.write(json.dumps(hot_state(sys.argv[2])) + "\n")
    else:
        main()
