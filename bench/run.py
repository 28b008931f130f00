"""`make bench`: load benchmark of the API against a floor.

1. creates (or reuses) the PostgreSQL database `bench_marketplace`, migrates it and seeds it
   (bench/seed.py: >= 1,000 published products x 3 variants with stock);
2. starts gunicorn (fixed worker model, DEBUG off, PostgreSQL, Redis, throttles off) with
   config.settings.bench, whose urlconf adds the floor view /bench/floor;
3. drives each scenario with wrk from a separate process and collects req/s, p50 and p99;
4. prints a markdown table and writes bench/results/latest.json (and latest.md).

The floor `B` is the cheapest JSON response Django can give through the same middleware stack;
every scenario is reported as a ratio to it, which is what stays comparable between machines.

Scenarios are plain `Scenario` objects in SCENARIOS: a name, the paths to cycle through (or a
Lua script of its own for POSTs), an optional `prepare` hook and an optional target ratio. A new
scenario (checkout, say) is one more entry.

Each scenario is BENCH_ROUNDS runs, each between two runs of the floor; its ratio is the median
of the runs' ratios (see measure()).

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_PRODUCTS (3000), BENCH_DURATION (4s a
run), BENCH_ROUNDS (5), BENCH_CONNECTIONS (32), BENCH_WRK_THREADS (2), BENCH_WORKERS (4),
BENCH_THREADS (4), BENCH_WORKER_CLASS (gthread), BENCH_FRESH=1 to drop and recreate the
database, BENCH_ONLY=floor,list to run a subset.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/run.py` from the Makefile: make `bench` importable
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PYTHON = sys.executable
SETTINGS = "config.settings.bench"

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_marketplace"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "3000"))
DURATION = os.environ.get("BENCH_DURATION", "4s")  # one run; a scenario is ROUNDS runs
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")
CACHED_DETAIL_PRODUCTS = 50


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- context handed to scenarios --------------------------------------------------------------


@dataclass
class Context:
    base_url: str
    product_ids: list[str]
    search_terms: list[str]
    workdir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def cache_clear(self) -> None:
        """Drop every key of the bench cache prefix (the detail caches and their versions)."""
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter("bench:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@dataclass
class Scenario:
    name: str
    label: str
    paths: Callable[[Context], list[str]]
    prepare: Callable[[Context, list[str]], None] | None = None
    target: float | None = None  # minimum ratio to the floor, if the issue sets one
    headers: Callable[[Context], dict[str, str]] | None = None
    lua: Path = BENCH / "lua" / "paths.lua"
    notes: Callable[[Context, list[str], dict[str, Any]], str] | None = None
    through_nginx: bool = False  # also measured through the stack's nginx (its catalog cache)


def _list_paths(ctx: Context) -> list[str]:
    return [f"/api/v1/products?page={page}&page_size=20" for page in range(1, 11)]


def _search_paths(ctx: Context) -> list[str]:
    from urllib.parse import quote

    return [f"/api/v1/products?search={quote(term)}&page_size=20" for term in ctx.search_terms]


def _cold_paths(ctx: Context) -> list[str]:
    ids = ctx.product_ids[CACHED_DETAIL_PRODUCTS:]
    random.Random(7).shuffle(ids)
    return [f"/api/v1/products/{product_id}" for product_id in ids]


def _cached_paths(ctx: Context) -> list[str]:
    return [f"/api/v1/products/{pid}" for pid in ctx.product_ids[:CACHED_DETAIL_PRODUCTS]]


def _clear(ctx: Context, paths: list[str]) -> None:
    ctx.cache_clear()


def _warm(ctx: Context, paths: list[str]) -> None:
    for path in paths:
        ctx.get(path)


def _cold_note(ctx: Context, paths: list[str], result: dict[str, Any]) -> str:
    if result["requests"] <= len(paths):
        return f"every request a different product ({len(paths)} available), cache cleared"
    share = len(paths) / result["requests"]
    return f"only {share:.0%} cold: {result['requests']} requests over {len(paths)} products"


SCENARIOS: list[Scenario] = [
    Scenario("floor", "B: minimal Django JSON view", lambda ctx: ["/bench/floor"]),
    Scenario(
        "floor_drf", "same JSON from a DRF APIView (reference)", lambda ctx: ["/bench/floor-drf"]
    ),
    Scenario(
        "list",
        "product list, 20 per page (pages 1-10)",
        _list_paths,
        target=0.4,
        through_nginx=True,
    ),
    Scenario("search", "search, 20 per page (10 terms)", _search_paths),
    Scenario(
        "detail_cold",
        "product detail, cold (cache cleared, each request a new product)",
        _cold_paths,
        prepare=_clear,
        notes=_cold_note,
    ),
    Scenario(
        "detail_cached",
        f"product detail, cached ({CACHED_DETAIL_PRODUCTS} products)",
        _cached_paths,
        prepare=_warm,
        target=0.8,
        through_nginx=True,
    ),
]


# --- setup: database, seed, server ------------------------------------------------------------


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, **kwargs.pop("env", {})}
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, **kwargs)


def database_prepare() -> None:
    import psycopg

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and os.environ.get("BENCH_FRESH") == "1":
            log(f"dropping database {name}")
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')
    log("migrating")
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"])
    log(f"seeding {PRODUCTS} products x 3 variants (skipped when already there)")
    run([PYTHON, "-m", "bench.seed", "--products", str(PRODUCTS)])
    # Fresh bulk inserts have no planner statistics yet; production tables do (autovacuum).
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        connection.execute("ANALYZE")


def seeded_data() -> tuple[list[str], list[str]]:
    import psycopg

    with psycopg.connect(DATABASE_URL) as connection:
        ids = [
            str(row[0])
            for row in connection.execute(
                "SELECT id FROM catalog_product WHERE status = 'published' ORDER BY id"
            )
        ]
    from bench.seed import SEARCH_TERMS

    return ids, list(SEARCH_TERMS)


def wrk_ensure() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk is missing: installing it with apt-get")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
    install = subprocess.run([*apt, "install", "-y", "wrk"], check=False)
    if install.returncode != 0:
        subprocess.run([*apt, "update"], check=True)
        subprocess.run([*apt, "install", "-y", "wrk"], check=True)
    path = shutil.which("wrk")
    if not path:
        sys.exit("wrk could not be installed")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, logfile: Path) -> None:
        self.port = port
        self.logfile = logfile
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(WORKERS),
            "--worker-class", WORKER_CLASS,
            "--threads", str(THREADS),
            "--timeout", "60",
            "--keep-alive", "30",
            "--log-level", "warning",
        ]  # fmt: skip

    def __enter__(self) -> Server:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DEBUG": "false"}
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=env,
            stdout=self.logfile.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited: see {self.logfile}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/floor", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        sys.exit(f"gunicorn did not answer within 30 s: see {self.logfile}")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


class NginxFront:
    """The stack's nginx (docker/nginx/marketplace.conf.template, rendered as `make stack` renders
    it) in front of the benchmark's gunicorn: anonymous catalog reads come from its cache."""

    def __init__(self, upstream_port: int, port: int, workdir: Path) -> None:
        self.upstream_port, self.port, self.dir = upstream_port, port, workdir / "nginx"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> NginxFront:
        sys.path.insert(0, str(ROOT / "docker"))
        import stack

        env = {
            "PORT": str(self.port),
            "GUNICORN_BIND": f"127.0.0.1:{self.upstream_port}",
            "UVICORN_HOST": "127.0.0.1",
            "UVICORN_PORT": "1",  # no stream in the benchmark
            "STATIC_ROOT": str(self.dir / "static"),
            "STACK_DIR": str(self.dir),
            "PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/sbin",
        }
        stack.write_nginx_config(env)
        nginx = shutil.which("nginx", path=env["PATH"])
        assert nginx is not None
        self.process = subprocess.Popen(
            [nginx, "-e", "stderr", "-p", str(self.dir), "-c", "nginx.conf", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "error.log").open("w"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/floor", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        sys.exit(f"nginx did not answer: see {self.dir / 'error.log'}")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


# --- measuring --------------------------------------------------------------------------------


def wrk_run(wrk: str, ctx: Context, scenario: Scenario, paths: list[str], duration: str) -> dict:
    paths_file = ctx.workdir / f"{scenario.name}.paths"
    paths_file.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "BENCH_PATHS": str(paths_file), "BENCH_THREADS": str(WRK_THREADS)}
    if scenario.headers:
        headers_file = ctx.workdir / f"{scenario.name}.headers"
        headers_file.write_text("".join(f"{k}: {v}\n" for k, v in scenario.headers(ctx).items()))
        env["BENCH_HEADERS"] = str(headers_file)
    command = [
        wrk, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{duration}", "--latency",
        "--timeout", "10s",
        "-s", str(scenario.lua), ctx.base_url,
    ]  # fmt: skip
    output = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, timeout=600
    ).stdout
    match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _check(ctx: Context, scenario: Scenario, paths: list[str]) -> int:
    status, body = ctx.get(paths[-1], scenario.headers(ctx) if scenario.headers else None)
    if status != 200:
        log(f"{scenario.name}: {paths[-1]} answered {status}, skipped: {body[:200]!r}")
    return status


def _warm_up(wrk: str, ctx: Context, scenario: Scenario, paths: list[str]) -> None:
    """Warm the workers (imports, connections) on this code path without touching the paths a
    cold scenario is about to measure."""
    warm_paths = paths if scenario.prepare is not _clear else _list_paths(ctx)
    wrk_run(wrk, ctx, scenario, warm_paths, "2s")


def _run(wrk: str, ctx: Context, scenario: Scenario, paths: list[str]) -> dict[str, Any]:
    if scenario.prepare:
        scenario.prepare(ctx, paths)
    result = wrk_run(wrk, ctx, scenario, paths, DURATION)
    result["errors"] = result["non_2xx_3xx"] + result["socket_errors"]
    if result["errors"]:
        log(f"{scenario.name}: {result['errors']} failed requests")
    return result


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure(
    wrk: str, ctx: Context, scenarios: list[Scenario], nginx_ctx: Context | None = None
) -> tuple[list[dict], float]:
    """Run every scenario ROUNDS times, each run between two runs of the floor, and take the
    median of the per-run ratios (scenario / mean of the two floor runs next to it). On a shared
    machine the background load drifts and bursts: the neighbouring floor runs move with the
    drift, and the median drops the runs a burst hit. B (the floor row) is the median of all
    floor runs; every row shows the median req/s and latencies of its runs. A scenario marked
    `through_nginx` is also run through nginx (`nginx_ctx`) in each round, next to the same
    floor runs."""
    floor, *others = scenarios
    floor_paths = floor.paths(ctx)
    _warm_up(wrk, ctx, floor, floor_paths)
    floor_runs = [_run(wrk, ctx, floor, floor_paths)]
    rows: list[dict[str, Any]] = []
    for scenario in others:
        paths = scenario.paths(ctx)
        status = _check(ctx, scenario, paths)
        if status != 200:
            rows.append({"name": scenario.name, "label": scenario.label, "skipped": status})
            continue
        _warm_up(wrk, ctx, scenario, paths)
        via = nginx_ctx if scenario.through_nginx else None
        if via is not None:
            _warm_up(wrk, via, scenario, paths)
        runs, ratios, floors_around, nginx_runs = [], [], [], []
        for round_ in range(1, ROUNDS + 1):
            result = _run(wrk, ctx, scenario, paths)
            if via is not None:
                nginx_runs.append(_run(wrk, via, scenario, paths))
            floor_runs.append(_run(wrk, ctx, floor, floor_paths))
            around = (floor_runs[-2]["rps"] + floor_runs[-1]["rps"]) / 2
            runs.append(result)
            floors_around.append(around)
            ratios.append(result["rps"] / around)
            log(
                f"{scenario.name} {round_}/{ROUNDS}: {result['rps']:.0f} req/s, "
                f"B around it {around:.0f}, ratio {ratios[-1]:.2f}"
            )
        row = _summary(scenario, runs)
        row["floor_rps"] = round(_median(floors_around), 1)
        row["ratios"] = [round(r, 3) for r in ratios]
        row["ratio"] = round(_median(ratios), 3)
        if scenario.notes:
            row["note"] = scenario.notes(ctx, paths, runs[0])
        if nginx_runs:
            row["nginx"] = _summary(scenario, nginx_runs)
            row["nginx"]["ratio"] = round(
                _median([r["rps"] / f for r, f in zip(nginx_runs, floors_around, strict=True)]), 3
            )
        rows.append(row)
    floor_row = _summary(floor, floor_runs)
    floor_row["floor_rps"] = floor_row["rps"]
    floor_row["floor_runs"] = [round(r["rps"], 1) for r in floor_runs]
    floor_row["ratio"] = 1.0
    rows.insert(0, floor_row)
    by_name = {scenario.name: scenario for scenario in scenarios}
    for row in rows:
        if "skipped" in row:
            continue
        target = by_name[row["name"]].target
        row["target"] = target
        row["met"] = None if target is None else row["ratio"] >= target
    return rows, floor_row["rps"]


def _summary(scenario: Scenario, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "label": scenario.label,
        "rps": round(_median([r["rps"] for r in runs]), 1),
        "p50_ms": round(_median([r["p50_us"] for r in runs]) / 1000, 2),
        "p99_ms": round(_median([r["p99_us"] for r in runs]) / 1000, 2),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "runs": [round(r["rps"], 1) for r in runs],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| scenario | req/s (median of {ROUNDS}) | p50 ms | p99 ms | B around it, req/s "
        "| ratio to B (median) | ratios of the runs | target "
        "| through nginx: req/s, p50 ms, ratio |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['label']} | skipped (HTTP {row['skipped']}) | | | | | | | |")
            continue
        target = ""
        if row["target"] is not None:
            target = f"≥ {row['target']} {'met' if row['met'] else 'MISSED'}"
        errors = f" ({row['errors']} errors)" if row["errors"] else ""
        label = row["label"]
        if "floor_runs" in row:
            label += f" (median of {len(row['floor_runs'])} runs)"
        ratios = ", ".join(f"{r:.2f}" for r in row.get("ratios", ()))
        nginx = row.get("nginx")
        via = f"{nginx['rps']:.0f}, {nginx['p50_ms']}, {nginx['ratio']:.2f}" if nginx else ""
        lines.append(
            f"| {label} | {row['rps']:.0f}{errors} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['floor_rps']:.0f} | {row['ratio']:.2f} | {ratios} | {target} | {via} |"
        )
    return "\n".join(lines)


def environment(product_count: int) -> dict[str, Any]:
    def version(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "gunicorn": (
            f"{WORKERS} workers, {WORKER_CLASS}"
            + (f" x {THREADS} threads" if WORKER_CLASS == "gthread" else "")
        ),
        "wrk": (
            f"{WRK_THREADS} threads, {CONNECTIONS} connections, {ROUNDS} runs of {DURATION} per "
            "scenario, each between two floor runs"
        ),
        "products": product_count,
        "variants": product_count * 3,
        "git": version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }


def main() -> None:
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    assert SCENARIOS[0].name == "floor"
    scenarios = [s for s in SCENARIOS if not only or s.name in only or s.name == "floor"]
    wrk = wrk_ensure()
    database_prepare()
    product_ids, terms = seeded_data()
    if len(product_ids) < 1000:
        sys.exit(f"only {len(product_ids)} products seeded; the benchmark needs 1,000+")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        info = environment(len(product_ids))
        nginx_port = free_port()
        with Server(port, workdir / "gunicorn.log"), NginxFront(port, nginx_port, workdir):
            ctx = Context(f"http://127.0.0.1:{port}", product_ids, terms, workdir)
            nginx_ctx = Context(f"http://127.0.0.1:{nginx_port}", product_ids, terms, workdir)
            ctx.cache_clear()
            rows, floor_rps = measure(wrk, ctx, scenarios, nginx_ctx)
        # Checkout (bench/checkout.py): its own server, with the event relay in a worker.
        from bench import checkout

        checkout_rows = checkout.run_all(wrk, workdir, only)
    # Imports (bench/imports.py): a 10,000-row product CSV through an import job, in rows/s.
    from bench import imports

    import_results = imports.run_all(only)
    # Scale-out (bench/scale_out.py): two gunicorn processes, one primary, one streaming replica.
    from bench import scale_out

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        scale_rows = scale_out.run_all(wrk, Path(tmp), only)
    info["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    table = markdown(rows)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": info,
        "floor_rps": round(floor_rps, 1),
        "scenarios": rows,
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(table + "\n")
    print(table)
    if checkout_rows:
        print()
        print(checkout.write_results(checkout_rows))
    if import_results:
        print()
        print(imports.table(import_results))
    if scale_rows:
        print()
        print(scale_out.markdown(scale_rows))
    print()
    print(
        f"{info['gunicorn']}; wrk {info['wrk']}; {info['products']} products x 3 variants; "
        f"{info['cpus']} CPUs shared by server and load generator; results in "
        f"{(RESULTS / 'latest.json').relative_to(ROOT)}"
    )
    missed = [row["name"] for row in rows if row.get("met") is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
