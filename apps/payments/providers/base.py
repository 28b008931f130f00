"""What the platform needs from a payment provider. Stripe is one implementation; another
provider is one more class with these methods (registered in apps.payments.providers).

Amounts cross this boundary as Decimal with a currency; each provider converts to its own units.
A provider raises `ProviderRefused` when the provider answered and said no (a definitive
refusal: do not retry the same request) and `ProviderUnavailable` when the outcome is unknown or
temporary (network, timeouts, rate limits, the provider's own errors): retry it with the same
idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ProviderRefused(ProviderError):
    """The provider answered no (invalid request, card declined, nothing left to refund)."""


class ProviderUnavailable(ProviderError):
    """The outcome is unknown or temporary: retry with the same idempotency key."""


class BadSignature(Exception):
    """A webhook whose signature (or timestamp) does not verify."""


# Intent statuses, as Stripe names them (the demo provider uses the same words).
REQUIRES_PAYMENT_METHOD = "requires_payment_method"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
# Statuses in which an intent can still be paid by the buyer's client.
PAYABLE = frozenset(
    {REQUIRES_PAYMENT_METHOD, "requires_confirmation", "requires_action", "processing"}
)


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount: Decimal
    currency: str  # upper case, as the platform writes currencies
    client_secret: str
    amount_received: Decimal
    metadata: dict[str, str] = field(default_factory=dict)
    last_error: str = ""


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str  # succeeded | pending | failed | canceled | requires_action
    amount: Decimal
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event: its id (handled once), type and object."""

    id: str
    type: str
    object: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    def is_configured(self) -> bool:
        """Whether payments can be taken (keys set)."""
        ...

    def intent_create(
        self, *, amount: Decimal, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Intent: ...

    def intent_retrieve(self, intent_id: str) -> Intent: ...

    def intent_cancel(self, intent_id: str, *, idempotency_key: str) -> Intent: ...

    def refund_create(
        self,
        *,
        intent_id: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundResult: ...

    def refunds_of(self, intent_id: str) -> list[RefundResult]:
        """Every refund of the intent (to find one whose creation's outcome was unknown)."""
        ...

    def event_verify(self, payload: bytes, signature: str) -> ProviderEvent:
        """The event of a webhook request; BadSignature when it does not verify."""
        ...
