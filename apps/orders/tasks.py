"""Thin order tasks: call one service. Safe to run twice or concurrently."""

from apps.orders.services import orders_expire
from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="orders.expire_pending", queue="default", max_retries=1)
def expire_pending_orders_task(limit: int = 500) -> int:
    """Cancel pending orders older than ORDER_PENDING_TTL (reason `expired`)."""
    return orders_expire(limit=limit)
