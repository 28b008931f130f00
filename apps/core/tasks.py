"""Periodic housekeeping of the core tables."""

from apps.core.idempotency import idempotency_records_prune
from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="core.prune_idempotency_records", ignore_result=True)
def prune_idempotency_records() -> int:
    """Daily: drop `Idempotency-Key` records past their 24 h."""
    return idempotency_records_prune()
