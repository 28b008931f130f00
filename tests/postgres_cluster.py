"""A throwaway PostgreSQL primary and streaming standby, made with the server binaries.

`initdb` a primary into a temporary directory, `pg_basebackup -R` a standby from it, each on a
free port of `PG_CLUSTER_PORTS` (25440-25459), with trust auth on the loopback only. They run as
the current user, or, as PostgreSQL refuses to run as root, as `PG_CLUSTER_USER` (`postgres`, the
server package's user) when the current user is root. Callers skip with a reason when
`server_bindir()` finds no binaries (failing under REQUIRE_SERVICES=1).
"""

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

CLUSTER_USER = os.environ.get("PG_CLUSTER_USER", "postgres")


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", CLUSTER_USER, "--", *argv]


def make_root() -> Path:
    """A temporary directory the server user owns (under /tmp, which every user can traverse)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pg-cluster-"))
    if os.geteuid() == 0:
        shutil.chown(root, CLUSTER_USER)
    return root


def server_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or PG_BINDIR."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def free_cluster_port(taken: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    first, _, last = os.environ.get("PG_CLUSTER_PORTS", "25440-25459").partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in PG_CLUSTER_PORTS")


@dataclass
class PgServer:
    bindir: Path
    datadir: Path
    port: int

    @property
    def log(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            _as_server_user([str(self.bindir / args[0]), *args[1:]]),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def configure(self, **settings: str) -> None:
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.datadir / "postgresql.auto.conf").open("a") as conf:
            conf.write(lines)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def log_count(self, needle: str) -> int:
        return self.log.read_text(errors="replace").count(needle)


def init_primary(bindir: Path, root: Path, port: int) -> PgServer:
    server = PgServer(bindir, root / "primary", port)
    server._run(
        "initdb", "-D", str(server.datadir), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8"
    )
    server.configure(
        port=str(port),
        listen_addresses="'127.0.0.1'",
        unix_socket_directories=f"'{root}'",
        wal_level="replica",
        max_wal_senders="5",
        max_connections="60",
        shared_buffers="'32MB'",
        fsync="off",  # a throwaway cluster: durability is not what the tests measure
        full_page_writes="off",
    )
    server.start()
    return server


def add_standby(
    primary: PgServer, root: Path, port: int, name: str = "standby", *, start: bool = True
) -> PgServer:
    """A streaming standby from a base backup, with a replication slot of its own on the
    primary (so the primary keeps the WAL it has not received, however long it is stopped)."""
    standby = PgServer(primary.bindir, root / name, port)
    standby._run(
        "pg_basebackup",
        "-h", "127.0.0.1",
        "-p", str(primary.port),
        "-U", "postgres",
        "-D", str(standby.datadir),
        "-R", "-X", "stream", "-c", "fast",
        "-C", "-S", name,
    )  # fmt: skip
    standby.configure(port=str(port), hot_standby="on")
    if start:
        standby.start()
    return standby


def wait_replayed(primary: PgServer, standby: PgServer, timeout: float = 30.0) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    (target,) = primary.execute("SELECT pg_current_wal_lsn()::text")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (done,) = standby.execute(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0]
        if done:
            return
        time.sleep(0.05)
    raise TimeoutError(f"standby on {standby.port} did not replay up to {target}")


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
