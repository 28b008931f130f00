"""A demo provider: takes no money and makes no network call. For the embedded default (`make
run` without a Stripe account) and the demo data only; production settings refuse it.

Intents and refunds live in this process's memory and in the ids themselves: an intent is
created as payable and stays so; `intent_succeed` (used by `seed_demo`) marks one paid the way
a Stripe webhook would report it. Refunds always succeed. No webhooks are ever sent, so no
signature verifies.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from apps.payments.providers.base import (
    CANCELED,
    REQUIRES_PAYMENT_METHOD,
    SUCCEEDED,
    BadSignature,
    Intent,
    ProviderEvent,
    ProviderRefused,
    RefundResult,
)


class DemoProvider:
    name = "demo"

    def __init__(self) -> None:
        self._intents: dict[str, Intent] = {}
        self._refunds: dict[str, list[RefundResult]] = {}

    def is_configured(self) -> bool:
        return True

    def intent_create(
        self, *, amount: Decimal, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Intent:
        intent_id = f"demo_pi_{idempotency_key}"
        if intent_id not in self._intents:
            self._intents[intent_id] = Intent(
                id=intent_id,
                status=REQUIRES_PAYMENT_METHOD,
                amount=amount,
                currency=currency.upper(),
                client_secret=f"{intent_id}_secret_{secrets.token_hex(8)}",
                amount_received=Decimal("0.00"),
                metadata=dict(metadata),
            )
        return self._intents[intent_id]

    def intent_retrieve(self, intent_id: str) -> Intent:
        if intent_id not in self._intents:
            # Another process made it (the demo keeps no shared state): report it still payable.
            return Intent(
                id=intent_id,
                status=REQUIRES_PAYMENT_METHOD,
                amount=Decimal("0.00"),
                currency="",
                client_secret="",
                amount_received=Decimal("0.00"),
            )
        return self._intents[intent_id]

    def intent_succeed(self, intent_id: str) -> Intent:
        intent = self.intent_retrieve(intent_id)
        paid = Intent(
            id=intent.id,
            status=SUCCEEDED,
            amount=intent.amount,
            currency=intent.currency,
            client_secret=intent.client_secret,
            amount_received=intent.amount,
            metadata=intent.metadata,
        )
        self._intents[intent_id] = paid
        return paid

    def intent_cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        intent = self.intent_retrieve(intent_id)
        if intent.status == SUCCEEDED:
            raise ProviderRefused("This PaymentIntent has already succeeded.")
        cancelled = Intent(
            id=intent.id,
            status=CANCELED,
            amount=intent.amount,
            currency=intent.currency,
            client_secret=intent.client_secret,
            amount_received=Decimal("0.00"),
            metadata=intent.metadata,
        )
        self._intents[intent_id] = cancelled
        return cancelled

    def refund_create(
        self,
        *,
        intent_id: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundResult:
        refund = RefundResult(
            id=f"demo_re_{idempotency_key}", status=SUCCEEDED, amount=amount, metadata=metadata
        )
        refunds = self._refunds.setdefault(intent_id, [])
        if all(existing.id != refund.id for existing in refunds):
            refunds.append(refund)
        return refund

    def refunds_of(self, intent_id: str) -> list[RefundResult]:
        return list(self._refunds.get(intent_id, ()))

    def event_verify(self, payload: bytes, signature: str) -> ProviderEvent:
        raise BadSignature("the demo provider sends no webhooks")
