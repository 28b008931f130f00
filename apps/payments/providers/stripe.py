"""Stripe through its official SDK: PaymentIntents, refunds and signed webhooks.

The only module of the project that imports `stripe`. Every write sends an idempotency key
derived from the platform's own ids, so a retry after a timeout never charges or refunds twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from apps.payments.minor_units import from_minor, to_minor
from apps.payments.providers.base import (
    BadSignature,
    Intent,
    ProviderEvent,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
)

# The provider answered and said no: the same request would be refused again.
REFUSALS = (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError)


class StripeProvider:
    name = "stripe"

    def is_configured(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY)

    def _client(self) -> stripe.StripeClient:
        # Built per call from the settings (cheap: no connection is opened until a request), so
        # a changed key or API base takes effect without a restart of the process.
        options: dict[str, Any] = {}
        if settings.STRIPE_API_BASE:
            options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT),
            **options,
        )

    def intent_create(
        self, *, amount: Decimal, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Intent:
        with _translated():
            intent = self._client().v1.payment_intents.create(
                params={
                    "amount": to_minor(amount, currency),
                    # No method types: the account's payment method settings decide (cards
                    # by default).
                    "currency": currency.lower(),
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return _intent(intent)

    def intent_retrieve(self, intent_id: str) -> Intent:
        with _translated():
            return _intent(self._client().v1.payment_intents.retrieve(intent_id))

    def intent_cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        with _translated():
            intent = self._client().v1.payment_intents.cancel(
                intent_id, options={"idempotency_key": idempotency_key}
            )
        return _intent(intent)

    def refund_create(
        self,
        *,
        intent_id: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundResult:
        with _translated():
            refund = self._client().v1.refunds.create(
                params={
                    "payment_intent": intent_id,
                    "amount": to_minor(amount, currency),
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return _refund(refund, currency)

    def refunds_of(self, intent_id: str) -> list[RefundResult]:
        with _translated():
            page = self._client().v1.refunds.list(
                params={"payment_intent": intent_id, "limit": 100}
            )
            return [_refund(refund, refund.currency) for refund in page.auto_paging_iter()]

    def event_verify(self, payload: bytes, signature: str) -> ProviderEvent:
        try:
            event = stripe.Webhook.construct_event(
                payload,
                signature,
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise BadSignature(str(exc)) from exc
        return ProviderEvent(id=event.id, type=event.type, object=event.data.object.to_dict())


@contextmanager
def _translated() -> Iterator[None]:
    """Stripe's exceptions as the provider interface's: a refusal or an unknown outcome."""
    try:
        yield
    except REFUSALS as exc:
        raise ProviderRefused(_message(exc), code=exc.code or "") from exc
    except stripe.StripeError as exc:
        raise ProviderUnavailable(_message(exc), code=exc.code or "") from exc


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__


def _intent(intent: Any) -> Intent:
    currency = intent.currency.upper()
    data = intent.to_dict()
    received = data.get("amount_received")
    if received is None:  # not every API version (nor every fake) reports it
        received = intent.amount if intent.status == "succeeded" else 0
    error = data.get("last_payment_error") or {}
    return Intent(
        id=intent.id,
        status=intent.status,
        amount=from_minor(intent.amount, currency),
        currency=currency,
        client_secret=intent.client_secret or "",
        amount_received=from_minor(received, currency),
        metadata=dict(data.get("metadata") or {}),
        last_error=str(error.get("message") or ""),
    )


def _refund(refund: Any, currency: str) -> RefundResult:
    data = refund.to_dict()
    return RefundResult(
        id=refund.id,
        status=refund.status or "",
        amount=from_minor(refund.amount, currency.upper()),
        metadata=dict(data.get("metadata") or {}),
    )
