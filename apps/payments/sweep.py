"""The periodic sweep (beat task `payments.sweep`, and `manage.py payments_reconcile --fix`):
what a lost task or a crash left undone is done here."""

from apps.payments.intents import payment_cancel, payments_to_cancel
from apps.payments.refunds import refund_retry, refunds_due


def payments_sweep(*, limit: int = 100) -> dict[str, int]:
    """Retry the pending refunds that are due (finishing their order moves) and cancel the
    intents of checkouts whose orders were all cancelled unpaid. Returns counts by outcome."""
    counts: dict[str, int] = {}
    for refund_id in refunds_due(limit=limit):
        outcome = f"refund_{refund_retry(refund_id=refund_id)}"
        counts[outcome] = counts.get(outcome, 0) + 1
    for payment_id in payments_to_cancel(limit=limit):
        outcome = f"intent_{payment_cancel(payment_id=payment_id)}"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
