"""Child processes of the chaos suite: each started with its own log file, addressed by its id,
and stopped at the end whatever happened."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class NotReady(AssertionError):
    """A readiness probe did not pass in time (the stack could not be set up as asked)."""


def wait_until(probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; NotReady names `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NotReady(f"{what}: not within {timeout:.0f}s (last: {value!r})")
        time.sleep(interval)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Ports:
    """Free loopback ports: from CHAOS_PORT_RANGE ("20000-20999") when set, else the kernel's."""

    def __init__(self, spec: str = "") -> None:
        low, _, high = spec.partition("-")
        self._range = range(int(low), int(high) + 1) if spec else None
        self._taken: set[int] = set()

    def take(self) -> int:
        candidates = self._range if self._range is not None else iter(self._kernel_port, None)
        for port in candidates:
            if port not in self._taken and self._bindable(port):
                self._taken.add(port)
                return port
        raise NotReady(f"no free port left in {self._range}")

    @staticmethod
    def _kernel_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    @staticmethod
    def _bindable(port: int) -> bool:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
        return not port_open(port)


class Process:
    """One long-running child in a session of its own (so that its children stop with it)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.user = user
        self.log_path = log_dir / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Process":
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self._popen is not None, f"{self.name} was never started"
        return self._popen.pid

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def freeze(self) -> None:
        """SIGSTOP: it stays exactly where it is, holding whatever it holds."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the process itself (a crash), leaving its children to their fate."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            assert self._popen is not None
            self._popen.wait()

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM to its process group) without waiting."""
        if self._popen is not None:
            self._signal_group(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM its process group, SIGKILL whatever is left after `timeout`."""
        self.terminate()
        self.wait_stopped(timeout)

    def wait_stopped(self, timeout: float) -> None:
        """Wait for it to exit after `terminate()`, SIGKILL its group after `timeout`."""
        if self._popen is None:
            return
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._popen.wait(5)
        # Children that outlived their leader (a prefork pool, a gunicorn worker) go too.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def children_of(pid: int) -> list[int]:
    """Ids of the live direct children of `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> str:
    """Run a command to completion; its stdout, or an error with its output."""
    done = subprocess.run(
        list(argv), env=env, user=user, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise NotReady(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout
