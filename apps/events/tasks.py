"""Relay tasks on the `events` queue: after-commit trigger and the periodic sweep."""

from apps.events.relay import clear_scheduled_flag, relay_run
from config.celery import app


@app.task(name="events.relay", ignore_result=True)  # routed to `events`
def relay_events_task() -> int:
    clear_scheduled_flag()  # events committed from now on schedule another run
    return relay_run().published


@app.task(name="events.relay_sweep", ignore_result=True)  # routed to `events`
def relay_sweep() -> int:
    """Beat, every ~10 s: anything a crash, an outage or a lost trigger left behind."""
    return relay_run().published
