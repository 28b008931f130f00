"""Compare local payment state with the provider's for a period (`manage.py
payments_reconcile`), and with `fix` repair what can be repaired: a payment, failure or
cancellation whose webhook never arrived is applied as the webhook would have applied it; a
refund left pending that the provider did make is recorded. What needs a person (money taken
for a checkout that does not match, refunds made outside the platform, a local payment the
provider does not know as paid) is reported only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum

from apps.core.money import ZERO
from apps.payments import intents
from apps.payments.models import Payment, Refund
from apps.payments.providers import provider_for
from apps.payments.providers.base import CANCELED, SUCCEEDED, ProviderError
from apps.payments.refunds import refund_retry_now

Status = Payment.Status
UNPAID = (Status.AWAITING_PAYMENT, Status.FAILED)


@dataclass(frozen=True)
class Difference:
    checkout: str
    problem: str
    fixed: bool = False

    def __str__(self) -> str:
        return f"{self.checkout}: {self.problem}{' (fixed)' if self.fixed else ''}"


def payments_reconcile(*, since: datetime, until: datetime, fix: bool) -> Iterator[Difference]:
    """The differences, payment by payment (created in [since, until)), oldest first."""
    payments = (
        Payment.objects.filter(created_at__gte=since, created_at__lt=until)
        .select_related("checkout")
        .order_by("created_at")
    )
    for payment in payments.iterator(chunk_size=200):
        yield from _payment(payment, fix=fix)


def _payment(payment: Payment, *, fix: bool) -> Iterator[Difference]:
    number = payment.checkout.number
    if not payment.intent_id:
        if payment.status in UNPAID:
            yield Difference(number, "no provider intent was ever created (buyer cannot pay)")
        return
    provider = provider_for(payment.provider)
    try:
        intent = provider.intent_retrieve(payment.intent_id)
        made = provider.refunds_of(payment.intent_id)
    except ProviderError as exc:
        yield Difference(number, f"provider unreachable: {exc.message}")
        return
    if intent.status == SUCCEEDED and payment.status in UNPAID:
        outcome = (
            intents.payment_intent_succeeded(intent=intent, provider=payment.provider)
            if fix
            else ""
        )
        yield Difference(
            number, f"paid at the provider, {payment.status} here", fixed=outcome == "applied"
        )
    elif intent.status == CANCELED and payment.status in UNPAID:
        outcome = (
            intents.payment_intent_canceled(intent=intent, provider=payment.provider) if fix else ""
        )
        yield Difference(
            number, f"cancelled at the provider, {payment.status} here", fixed=outcome == "applied"
        )
    elif intent.status != SUCCEEDED and payment.status in (Status.PAID, Status.REFUNDED):
        yield Difference(number, f"{payment.status} here, {intent.status} at the provider")
    local_keys = set(
        Refund.objects.filter(payment=payment).values_list("idempotency_key", flat=True)
    )
    for provider_refund in made:
        if provider_refund.metadata.get("refund_key", "") not in local_keys:
            yield Difference(
                number,
                f"refund {provider_refund.id} of {provider_refund.amount} made outside the "
                "platform",
            )
    pending = Refund.objects.filter(payment=payment, status=Refund.Status.PENDING)
    made_keys = {r.metadata.get("refund_key") for r in made if r.status == SUCCEEDED}
    for refund in pending:
        if refund.idempotency_key in made_keys:
            outcome = refund_retry_now(refund_id=refund.pk) if fix else ""
            yield Difference(
                number,
                f"refund {refund.pk} made at the provider, pending here",
                fixed=outcome == "succeeded",
            )
    there = sum((r.amount for r in made if r.status == SUCCEEDED), start=ZERO)
    here = _refunded(payment)
    if there != here and not fix:
        yield Difference(number, f"refunded {there} at the provider, {here} here")


def _refunded(payment: Payment) -> Decimal:
    return Refund.objects.filter(payment=payment, status=Refund.Status.SUCCEEDED).aggregate(
        total=Sum("amount", default=ZERO)
    )["total"]
