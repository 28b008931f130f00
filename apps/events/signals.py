"""Graceful stop for the long-running event commands."""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(on_signal: Callable[[int], None] | None = None) -> Iterator[threading.Event]:
    """An Event set by SIGTERM/SIGINT while the block runs; the old handlers come back after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals only reach the main thread; callers may set the event themselves
        return

    def handle(signum: int, _frame: object) -> None:
        if on_signal is not None:
            on_signal(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
