"""A task for tests that run a real `celery worker` process (loaded there with `-I`): it notes
its start, sleeps, and notes its end, in files of the directory it is given."""

import os
import time
from pathlib import Path

from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="tests.worker_probe.sleep_then_note")
def sleep_then_note(directory: str, seconds: float) -> None:
    with Path(directory, "started").open("a") as started:
        started.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    with Path(directory, "finished").open("a") as finished:
        finished.write(f"{os.getpid()}\n")
