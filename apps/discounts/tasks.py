"""Thin discount tasks: call one service. Safe to run twice or concurrently."""

from apps.discounts.services import discounts_announce_started
from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="discounts.announce_started", ignore_result=True)
def announce_started_discounts(limit: int = 500) -> int:
    """Announce public codes whose start time has come (`shop.new_discount`, once each)."""
    return discounts_announce_started(limit=limit)
