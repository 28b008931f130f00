from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.core.models import BaseModel

ZERO = Decimal("0.00")


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class Payment(BaseModel):
    """The card payment of one checkout: one provider intent for the checkout's total."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        FAILED = "failed", "Failed (may be retried)"
        PAID = "paid", "Paid"
        REFUNDED = "refunded", "Refunded in full"
        CANCELLED = "cancelled", "Cancelled"
        # The provider reported a payment that does not match the checkout: staff decide.
        FLAGGED = "flagged", "Flagged for staff"

    # No reverse accessor: orders knows nothing of payments (it hands responses a `payment`).
    checkout = models.OneToOneField("orders.Checkout", on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=16)
    # The provider's intent (Stripe `pi_...`); blank until one could be created.
    intent_id = models.CharField(max_length=255, blank=True)
    client_secret = models.CharField(max_length=255, blank=True)
    # How many intents were created (a cancelled one is replaced): part of the idempotency key.
    intent_attempt = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.AWAITING_PAYMENT, db_index=True
    )
    amount = _money()
    currency = models.CharField(max_length=3)
    amount_received = _money(default=ZERO)
    amount_refunded = _money(default=ZERO)
    last_error = models.CharField(max_length=500, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    flagged_reason = models.CharField(max_length=500, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "intent_id"],
                condition=~Q(intent_id=""),
                name="payment_provider_intent_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount_received")),
                name="payment_refunded_within_received",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.intent_id or '(no intent)'} {self.status}"


class Refund(BaseModel):
    """Money given back on a payment: one order's amount (or, for a flagged payment, what was
    received). A refund may carry the order status change it was made for (a cancel of a paid
    order, delivered -> refunded): that change happens once the provider accepted the refund."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = _money()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    provider_refund_id = models.CharField(max_length=255, blank=True)
    # Sent to the provider with every call for this refund and kept in its metadata:
    # `order-<order id>-refund-<n>` (`payment-<payment id>-refund-<n>` without an order), n
    # counting the order's refunds. Derived from the order, not from this row, so a refund whose
    # row was rolled back with its request (a crash after the provider answered) gets the same key
    # on the retry: the provider answers with the refund it made instead of making another.
    idempotency_key = models.CharField(max_length=100, unique=True)
    # Why: `cancel`, `refund` (delivered -> refunded), `late_payment` (money for an order
    # cancelled before its payment arrived), `flagged` (staff gave a mismatched payment back).
    reason = models.CharField(max_length=32)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The order status change this refund was made for ("" for none) and whether it happened.
    transition_to = models.CharField(max_length=16, blank=True)
    transition_role = models.CharField(max_length=16, blank=True)
    transition_reason = models.CharField(max_length=255, blank=True)
    transition_note = models.CharField(max_length=500, blank=True)
    transition_restock = models.BooleanField(default=False)
    transition_applied = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    # Who may call the provider next, and when: the request that made the refund holds it for
    # a lease; after that (a crash, a timeout) the sweep takes over.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="refund_status_next_attempt"),
        ]
        constraints = [
            # No double refund: an order has at most one refund that is not failed.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(order__isnull=False) & ~Q(status="failed"),
                name="refund_one_live_per_order",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(order__isnull=True) & ~Q(status="failed"),
                name="refund_one_live_orderless_per_payment",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} {self.currency} {self.status}"


class ProviderEvent(BaseModel):
    """A webhook event from a provider, recorded once: the unique row makes redelivery a no-op."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    # What handling did: `applied`, `ignored` (a type we do not act on), `unknown_payment`,
    # `flagged`, `stale` (nothing left to change).
    outcome = models.CharField(max_length=32, blank=True)
    payload = models.JSONField()

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="providerevent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class Payout(BaseModel):
    """Money paid out to a shop (recorded by staff after the bank transfer)."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="payouts")
    amount = _money()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"payout {self.amount} {self.currency} to {self.shop_id}"


class LedgerEntry(BaseModel):
    """One line of the double-entry seller ledger. Append-only: entries are never changed or
    deleted; a refund is new entries that reverse the sale. The entries of one posting (a sale,
    its reversal, a payout) sum to zero, so every order's entries sum to zero.

    Accounts: `shop` (what the platform owes the shop), `commission` (the platform's revenue),
    `clearing` (the buyers' money the platform holds). A sale of 100.00 at 10 %: clearing -100,
    shop +100 (sale), shop -10 (commission), commission +10.
    """

    class Account(models.TextChoices):
        SHOP = "shop", "Shop"
        COMMISSION = "commission", "Platform commission"
        CLEARING = "clearing", "Platform clearing"

    class Kind(models.TextChoices):
        SALE = "sale", "Sale"
        COMMISSION = "commission", "Commission"
        REFUND = "refund", "Refund"
        PAYOUT = "payout", "Payout"

    # `sale:<order id>`, `reversal:<order id>`, `payout:<payout id>`: one posting each.
    posting = models.CharField(max_length=64)
    account = models.CharField(max_length=16, choices=Account.choices)
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="ledger_entries")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payout = models.ForeignKey(
        Payout, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = _money()  # signed
    currency = models.CharField(max_length=3)
    # When the shop may be paid this (sales: PAYOUT_DELAY_DAYS after delivery).
    available_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["shop", "account", "available_at"], name="ledger_shop_available"),
            models.Index(fields=["shop", "account", "-created_at"], name="ledger_shop_created"),
        ]
        constraints = [
            # A posting is written once (a sale is never credited twice).
            models.UniqueConstraint(
                fields=["posting", "account", "kind"], name="ledger_posting_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.posting} {self.account} {self.kind} {self.amount}"
