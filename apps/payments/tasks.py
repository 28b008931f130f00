"""Thin payment tasks: take ids, call one service. Safe to run twice or concurrently (each
service claims its row with a conditional update or acts only on the state it finds)."""

from uuid import UUID

from apps.payments.intents import intent_abandon, payment_cancel
from apps.payments.refunds import refund_retry
from apps.payments.sweep import payments_sweep
from config.celery import RetryingTask, app


@app.task(base=RetryingTask, name="payments.refund_retry", max_retries=2)
def refund_retry_task(refund_id: str) -> str:
    """Ask the provider again for a pending refund (a failure is recorded and left for the
    sweep, not raised)."""
    return refund_retry(refund_id=UUID(refund_id))


@app.task(base=RetryingTask, name="payments.cancel_intent", max_retries=2)
def payment_cancel_task(payment_id: str) -> str:
    """Cancel the intent of a checkout whose orders were all cancelled unpaid."""
    return payment_cancel(payment_id=UUID(payment_id))


@app.task(base=RetryingTask, name="payments.sweep", max_retries=0)
def payments_sweep_task() -> dict[str, int]:
    """Periodic: retry due refunds, cancel the intents left to cancel."""
    return payments_sweep()


@app.task(
    base=RetryingTask,
    name="payments.intent_abandon",
    max_retries=12,  # backoff 2 s doubling, capped at 5 min: about half an hour, then the DLQ
)
def intent_abandon_task(provider: str, intent_id: str) -> str:
    """Cancel the intent of a card placement that failed (retried while the provider is down)."""
    return intent_abandon(provider=provider, intent_id=intent_id)
