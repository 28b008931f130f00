"""Provider webhooks: verified with the provider's SDK, each event handled once.

The event row (unique per provider and event id) and everything the event changes are written in
one transaction: a redelivered event finds its row and changes nothing; two concurrent
deliveries of one event wait on the unique index, and the second does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core.money import ZERO
from apps.payments import errors, intents
from apps.payments.minor_units import from_minor
from apps.payments.models import Payment, ProviderEvent, Refund
from apps.payments.providers import provider_for
from apps.payments.providers.base import BadSignature, Intent
from apps.payments.providers.base import ProviderEvent as VerifiedEvent

# Never stored: the intent's client secret lets whoever holds it pay.
UNSTORED_FIELDS = ("client_secret",)


def _intent_of(data: dict[str, Any]) -> Intent:
    currency = str(data.get("currency") or "").upper()
    amount = int(data.get("amount") or 0)
    received = data.get("amount_received")
    if received is None:  # not every API version reports it
        received = amount if data.get("status") == "succeeded" else 0
    error = data.get("last_payment_error") or {}
    return Intent(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        amount=from_minor(amount, currency),
        currency=currency,
        client_secret="",
        amount_received=from_minor(int(received), currency),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        last_error=str(error.get("message") or ""),
    )


def _succeeded(provider: str, data: dict[str, Any]) -> str:
    return intents.payment_intent_succeeded(intent=_intent_of(data), provider=provider)


def _failed(provider: str, data: dict[str, Any]) -> str:
    return intents.payment_intent_failed(intent=_intent_of(data), provider=provider)


def _canceled(provider: str, data: dict[str, Any]) -> str:
    return intents.payment_intent_canceled(intent=_intent_of(data), provider=provider)


def _charge_refunded(provider: str, data: dict[str, Any]) -> str:
    """A refund went through at the provider: refunds still pending here are looked up again
    (after commit, by a task); more refunded there than here is reported for staff."""
    payment = Payment.objects.filter(
        provider=provider, intent_id=str(data.get("payment_intent") or "")
    ).first()
    if payment is None:
        return "unknown_payment"
    pending = list(
        Refund.objects.filter(payment=payment, status=Refund.Status.PENDING).values_list(
            "pk", flat=True
        )
    )
    Refund.objects.filter(pk__in=pending).update(next_attempt_at=timezone.now())
    intents.refunds_retry_after_commit(pending)
    refunded_there = from_minor(int(data.get("amount_refunded") or 0), payment.currency)
    known = (
        Refund.objects.filter(payment=payment)
        .exclude(status=Refund.Status.FAILED)
        .aggregate(total=Sum("amount", default=ZERO))["total"]
    )
    return "refund_mismatch" if refunded_there > known else "applied"


HANDLERS: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "payment_intent.canceled": _canceled,
    "charge.refunded": _charge_refunded,
}


def webhook_receive(*, provider: str, payload: bytes, signature: str) -> str:
    """Verify and handle one webhook request. Returns the outcome (`duplicate` for an event
    handled before). Raises BadSignature (400) without changing anything."""
    try:
        event: VerifiedEvent = provider_for(provider).event_verify(payload, signature)
    except BadSignature as exc:
        raise errors.BadSignature("The webhook signature does not verify.") from exc
    stored = {k: v for k, v in event.object.items() if k not in UNSTORED_FIELDS}
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ProviderEvent.objects.create(
                    provider=provider, event_id=event.id, type=event.type, payload=stored
                )
        except IntegrityError:
            return "duplicate"
        handler = HANDLERS.get(event.type)
        outcome = handler(provider, event.object) if handler else "ignored"
        intent_id = event.object.get("payment_intent") or event.object.get("id")
        record.payment = Payment.objects.filter(provider=provider, intent_id=intent_id).first()
        record.outcome = outcome
        record.save(update_fields=["payment", "outcome", "updated_at"])
    return outcome
