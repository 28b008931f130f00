"""Scale-out benchmark: two gunicorn processes sharing one database and one read replica.

A cluster of its own (tests/postgres_cluster.py: `initdb` primary, `pg_basebackup -R` standby on
ports 25440-25459), migrated and seeded with BENCH_SCALE_PRODUCTS products (3,000), and two
gunicorn servers (each one process, gthread x BENCH_SCALE_THREADS threads: two web hosts in
miniature), each driven by its own wrk at the same time. What it measures, with the CPU seconds
each process group used (Linux /proc, so a figure per core holds whatever else the machine runs):

- `reads_primary` / `reads_replica`: anonymous product details, cache cleared, each request a
  different product, without and with `DATABASE_REPLICA_URLS`; and where the transactions ran
  (pg_stat_database on each server);
- `orders`: POST /api/v1/orders from 50 buyers (bench/lua/checkout.lua) on both servers;
- `relay`: one `manage.py relay_events --once` delivering the events the orders wrote (Kafka off:
  the in-process subscribers, which write the notification tasks to the task outbox and send them
  to RabbitMQ queues of their own, purged afterwards).

`python -m bench.scale_out` runs it alone; bench/run.py runs it last (`BENCH_ONLY=scale`).
Results: bench/results/scale.json and scale.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout import BUYERS, LUA, CpuMeter, _descendants  # noqa: E402
from tests.postgres_cluster import (  # noqa: E402
    PgServer,
    add_standby,
    free_cluster_port,
    init_primary,
    make_root,
    remove,
    server_bindir,
    wait_replayed,
)

PRODUCTS = int(os.environ.get("BENCH_SCALE_PRODUCTS", "3000"))
DURATION = os.environ.get("BENCH_SCALE_DURATION", "8s")
THREADS = int(os.environ.get("BENCH_SCALE_THREADS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_SCALE_CONNECTIONS", "16"))  # per server
PREFIX = "bench-scale"
DATABASE = "bench_scale"
RESULTS = ROOT / "bench" / "results"


def log(message: str) -> None:
    print(f"[bench scale] {message}", file=sys.stderr, flush=True)


def _postmaster(server: PgServer) -> int:
    return int((server.datadir / "postmaster.pid").read_text().split()[0])


def _xacts(server: PgServer) -> int:
    (count,) = server.execute(
        f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{DATABASE}'"
    )[0]
    return int(count)


class Cluster:
    def __init__(self) -> None:
        self.root = make_root()
        self.servers: list[PgServer] = []

    def start(self, env: dict[str, str]) -> tuple[PgServer, PgServer]:
        bindir = server_bindir()
        assert bindir is not None
        primary = init_primary(bindir, self.root, free_cluster_port())
        self.servers.append(primary)
        primary.execute(f'CREATE DATABASE "{DATABASE}"')
        env = {**env, "BENCH_DATABASE_URL": primary.url(DATABASE)}
        log(f"primary on {primary.port}: migrating, seeding {PRODUCTS} products")
        _run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        _run([sys.executable, "-m", "bench.seed", "--products", str(PRODUCTS)], env)
        primary.execute("ANALYZE", DATABASE)
        standby = add_standby(primary, self.root, free_cluster_port({primary.port}))
        self.servers.append(standby)
        wait_replayed(primary, standby)
        log(f"standby on {standby.port}, replaying")
        return primary, standby

    def stop(self) -> None:
        for server in reversed(self.servers):
            with contextlib.suppress(Exception):
                server.stop()
        remove(self.root)


def _run(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=900
    ).stdout


@contextlib.contextmanager
def servers(env: dict[str, str], workdir: Path, count: int = 2) -> Iterator[list[Any]]:
    from bench.run import free_port

    started = []
    try:
        for number in range(count):
            port = free_port()
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(THREADS),
                    "--keep-alive",
                    "30",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env={**env, "DEBUG": "false"},
                stdout=(workdir / f"gunicorn-{number}.log").open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started.append((process, f"http://127.0.0.1:{port}"))
        for process, url in started:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/bench/floor", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"gunicorn at {url} did not start") from None
                    time.sleep(0.3)
        yield started
    finally:
        for process, _ in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _wrk_parallel(wrk: str, jobs: list[tuple[str, dict[str, str], Path]]) -> list[dict]:
    """One wrk per (base url, env, lua script), all at once; their BENCH_JSON summaries."""
    processes = [
        subprocess.Popen(
            [
                wrk,
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{DURATION}",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                str(lua),
                url,
            ],
            env={**os.environ, "BENCH_THREADS": "1", **extra},
            stdout=subprocess.PIPE,
            text=True,
        )
        for url, extra, lua in jobs
    ]
    results = []
    for process in processes:
        output, _ = process.communicate(timeout=600)
        match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.MULTILINE)
        if not match:
            raise RuntimeError(f"wrk printed no summary:\n{output}")
        results.append(json.loads(match.group(1)))
    return results


def _cache_clear() -> None:
    import redis

    client = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    keys = list(client.scan_iter(f"{PREFIX}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def _row(name: str, label: str, results: list[dict], cpu: dict[str, float]) -> dict[str, Any]:
    seconds = max(r["duration_us"] for r in results) / 1e6
    requests = sum(r["requests"] for r in results)
    errors = sum(r.get("non_2xx_3xx", 0) + r.get("socket_errors", 0) for r in results)
    row: dict[str, Any] = {
        "name": name,
        "label": label,
        "rps": round(requests / seconds, 1),
        "requests": requests,
        "errors": errors,
        "p50_ms": round(max(r["p50_us"] for r in results) / 1000, 2),
        "p99_ms": round(max(r["p99_us"] for r in results) / 1000, 2),
        "cpu_s": cpu,
        "cpu_ms_per_request": {k: round(v * 1000 / max(requests, 1), 2) for k, v in cpu.items()},
    }
    if "created" in results[0]:
        row["created"] = sum(r["created"] for r in results)
        row["orders_per_s"] = round(row["created"] / seconds, 1)
    return row


def measure(wrk: str, workdir: Path) -> list[dict[str, Any]]:
    cluster = Cluster()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "BENCH_CACHE_KEY_PREFIX": PREFIX,
        "BENCH_CELERY_EAGER": "false",
        "BENCH_CELERY_QUEUE_PREFIX": f"{PREFIX}-",
    }
    rows: list[dict[str, Any]] = []
    try:
        primary, standby = cluster.start(env)
        env["BENCH_DATABASE_URL"] = primary.url(DATABASE)
        ids = [row[0] for row in primary.execute("SELECT id::text FROM catalog_product", DATABASE)]
        random.Random(7).shuffle(ids)
        halves = [ids[0::2], ids[1::2]]
        for number, half in enumerate(halves):
            (workdir / f"details-{number}").write_text(
                "".join(f"/api/v1/products/{pk}\n" for pk in half)
            )
        _run([sys.executable, "-m", "bench.checkout", "setup", "--out", str(workdir)], env)
        # The queues of this run, as a worker declares them on start (none runs here): the API's
        # relay tasks and the relay's notification tasks wait in them, purged at the end.
        _run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from config.celery import declare_dead_letter_queues as d; d()",
            ],
            env,
        )
        wait_replayed(primary, standby)

        def meter(gunicorns: list[Any]) -> CpuMeter:
            return CpuMeter(
                {
                    "api": lambda: [p for g, _ in gunicorns for p in _descendants(g.pid)],
                    "primary": lambda: _descendants(_postmaster(primary)),
                    "replica": lambda: _descendants(_postmaster(standby)),
                }
            )

        for mode, extra in (
            ("reads_primary", {}),
            ("reads_replica", {"DATABASE_REPLICA_URLS": standby.url(DATABASE)}),
        ):
            with servers({**env, **extra}, workdir) as gunicorns:
                jobs = [
                    (url, {"BENCH_PATHS": str(workdir / f"details-{n}")}, _paths_lua())
                    for n, (_, url) in enumerate(gunicorns)
                ]
                _cache_clear()
                _wrk_parallel(wrk, [(u, e, lua) for u, e, lua in jobs])  # warm-up, 8 s
                _cache_clear()
                cpu = meter(gunicorns)
                before, xacts = cpu.snapshot(), (_xacts(primary), _xacts(standby))
                results = _wrk_parallel(wrk, jobs)
                used = CpuMeter.used(before, cpu.snapshot())
                row = _row(
                    mode,
                    "product detail, cold, anonymous: 2 gunicorn x 1 process"
                    + (" + 1 replica" if extra else ", primary only"),
                    results,
                    used,
                )
                row["transactions"] = {
                    "primary": _xacts(primary) - xacts[0],
                    "replica": _xacts(standby) - xacts[1],
                }
                rows.append(row)
                log(f"{mode}: {row['rps']} req/s, CPU ms/request {row['cpu_ms_per_request']}")
                if extra:
                    orders = _orders(wrk, workdir, gunicorns, meter(gunicorns))
                    rows.append(orders)
                    log(
                        f"orders: {orders['orders_per_s']} orders/s, {orders['cpu_ms_per_request']}"
                    )
        rows.append(_relay(env, primary))
        log(f"relay: {rows[-1]['events_per_s']} events/s")
    finally:
        cluster.stop()
        _purge(env)
    return rows


def _paths_lua() -> Path:
    return ROOT / "bench" / "lua" / "paths.lua"


def _orders(wrk: str, workdir: Path, gunicorns: list[Any], cpu: CpuMeter) -> dict[str, Any]:
    env = {
        "BENCH_TOKENS": str(workdir / "tokens"),
        "BENCH_VARIANTS": str(workdir / "variants"),
    }
    before = cpu.snapshot()
    results = _wrk_parallel(wrk, [(url, env, LUA) for _, url in gunicorns])
    used = CpuMeter.used(before, cpu.snapshot())
    return _row(
        "orders",
        f"POST /api/v1/orders, {BUYERS} buyers x 1 unit: 2 gunicorn x 1 process, one primary",
        results,
        used,
    )


def _relay_once(env: dict[str, str], primary: PgServer) -> tuple[int, float, dict[str, float]]:
    """One `relay_events --once`: events relayed, seconds it says it took (after start-up), CPU
    seconds of the relay process and of the primary."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cpu = CpuMeter(
        {"relay": lambda: [process.pid], "primary": lambda: _descendants(_postmaster(primary))}
    )
    before = last = cpu.snapshot()
    while process.poll() is None:
        last = cpu.snapshot()  # the relay's own figure is gone once it exits
        time.sleep(0.05)
    output = process.communicate()[0]
    match = re.search(r"relayed (\d+) event\(s\) in ([\d.]+)s", output)
    if not match:
        raise RuntimeError(f"relay_events printed no summary:\n{output}")
    return int(match.group(1)), float(match.group(2)), CpuMeter.used(before, last)


def _relay(env: dict[str, str], primary: PgServer) -> dict[str, Any]:
    """The events the orders left, through one relay; its CPU less that of a run with nothing
    to do (Django's start-up)."""
    (pending,) = primary.execute(
        "SELECT count(*) FROM events_outboxevent WHERE published_at IS NULL", DATABASE
    )[0]
    relayed, seconds, used = _relay_once(env, primary)
    (tasks_left,) = primary.execute("SELECT count(*) FROM events_pendingtask", DATABASE)[0]
    _, _, idle = _relay_once(env, primary)
    used = {name: round(max(used[name] - idle[name], 0.0), 2) for name in used}
    return {
        "name": "relay",
        "label": "one relay_events --once: outbox to subscribers (Kafka off), notification tasks "
        "to RabbitMQ",
        "pending_before": int(pending),
        "events": relayed,
        "seconds": seconds,
        "events_per_s": round(relayed / seconds, 1) if seconds else None,
        "cpu_s": used,
        "startup_cpu_s": idle,
        "tasks_left_unsent": int(tasks_left),
        "cpu_ms_per_event": {k: round(v * 1000 / max(relayed, 1), 2) for k, v in used.items()},
    }


def _purge(env: dict[str, str]) -> None:
    from config.celery import WORK_QUEUES

    queues = ",".join(f"{PREFIX}-{queue}" for queue in WORK_QUEUES)
    subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "purge", "-f", "-Q", queues],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | req/s | orders or events/s | p50 ms | p99 ms | errors "
        "| CPU ms per request: API / primary / replica | transactions: primary / replica |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        if row["name"] == "relay":
            cpu = row["cpu_ms_per_event"]
            lines.append(
                f"| {row['label']} ({row['events']} events) | | {row['events_per_s']} | | | "
                f"| relay {cpu['relay']} / primary {cpu['primary']} per event | |"
            )
            continue
        cpu = row["cpu_ms_per_request"]
        tx = row.get("transactions")
        transactions = f"{tx['primary']} / {tx['replica']}" if tx else ""
        lines.append(
            f"| {row['label']} | {row['rps']} | {row.get('orders_per_s', '')} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['errors']} | {cpu['api']} / {cpu['primary']} / "
            f"{cpu['replica']} | {transactions} |"
        )
    return "\n".join(lines)


def run_all(wrk: str, workdir: Path, only: set[str]) -> list[dict[str, Any]]:
    if only and "scale" not in only:
        return []
    if server_bindir() is None:
        log("skipped: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
        return []
    rows = measure(wrk, workdir)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
            "gunicorn": f"2 servers x 1 process, gthread x {THREADS} threads",
            "wrk": f"one per server, 1 thread, {CONNECTIONS} connections, {DURATION}",
            "products": PRODUCTS,
        },
        "scenarios": rows,
    }
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(rows)
    (RESULTS / "scale.md").write_text(table + "\n")
    return rows


def main() -> None:
    import tempfile

    from bench import run

    wrk = run.wrk_ensure()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        rows = run_all(wrk, Path(tmp), set())
    sys.stdout.write(markdown(rows) + "\n")


if __name__ == "__main__":
    main()
