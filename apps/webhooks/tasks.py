"""Thin tasks on the `webhooks` queue. Both are idempotent."""

from apps.webhooks import services
from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="webhooks.deliver", ignore_result=True)
def deliver(delivery_id: str, token: str | None = None) -> str | None:
    """One attempt of one delivery; a duplicate or stale message attempts nothing."""
    return services.delivery_attempt(delivery_id=delivery_id, token=token)


@app.task(name="webhooks.sweep", ignore_result=True)
def sweep() -> int:
    """Beat, every ~5 s: queue the deliveries that are due."""
    return services.deliveries_due_enqueue()
