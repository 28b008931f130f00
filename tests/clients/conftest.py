"""A live server for the generated-client tests: the embedded default (`config.settings.dev`) on
a throwaway SQLite database with the demo data, served by `manage.py runserver` on a free port,
as a storefront developer meets it after `make run`.

`LIVE_SERVER_PORTS=24000-24999` picks the port from a range (machines shared by several test
runs give each its own); by default the operating system picks a free one."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60  # seconds for the server to answer its liveness probe


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path
    seed_log: Path  # what `manage.py seed_demo` printed, as `make run` shows it

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    spec = os.environ.get("LIVE_SERVER_PORTS", "")
    if not spec:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    first, _, last = spec.partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in LIVE_SERVER_PORTS={spec}")


def server_environment(workdir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "KAFKA_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DATABASE_URL=f"sqlite:///{workdir / 'live.sqlite3'}",
        MEDIA_ROOT=str(workdir / "media"),
        FILE_CACHE_DIR=str(workdir / "cache"),  # not var/cache, which `make run` uses
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(*args: str, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health/live", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    workdir = tmp_path_factory.mktemp("live-server")
    log = workdir / "server.log"
    env = server_environment(workdir)
    seed_log = workdir / "seed.log"
    _manage("migrate", "--noinput", env=env, log=log)
    _manage("seed_demo", env=env, log=seed_log)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = DemoServer(url=url, log=log, seed_log=seed_log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the live server did not start:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def demo_schema(demo_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OpenAPI document as the live server serves it, in a file."""
    target = tmp_path_factory.mktemp("schema") / "openapi.json"
    with urllib.request.urlopen(f"{demo_server.url}/api/schema/?format=json", timeout=30) as r:
        assert r.status == 200
        target.write_bytes(r.read())
    return target
