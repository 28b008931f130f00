"""The seller ledger: postings (sale, reversal, payout), balances and payouts.

A sale is posted when an order is delivered and paid, in the transaction of the move that made it
so (for cash on delivery both happen in the delivery; a card order is paid before it can even be
confirmed). A refund of a delivered order posts the sale's reversal in the transaction of the
`refunded` move. Each posting is written once (a unique constraint backs the check) and its
entries sum to zero, so the entries of every order sum to zero. Entries are never updated or
deleted.

Balances are sums of the shop's entries: `available` those whose `available_at` has passed
(sales PAYOUT_DELAY_DAYS after delivery), `pending` the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from apps import events
from apps.core.errors import field_error
from apps.core.money import ZERO, quantize
from apps.orders.models import Order
from apps.payments import errors
from apps.payments import events as payment_events
from apps.payments.models import LedgerEntry, Payout
from apps.shops.models import Shop
from apps.users.models import User

Account = LedgerEntry.Account
Kind = LedgerEntry.Kind


def commission_rate(shop: Shop) -> Decimal:
    if shop.commission_rate is not None:
        return shop.commission_rate
    return Decimal(settings.PLATFORM_COMMISSION_RATE)


def ledger_post_sale(*, order: Order, at: datetime | None = None) -> bool:
    """Credit the shop the order's total less the commission, and the platform the commission.
    Call inside the transaction of the move that made the order delivered and paid. Returns
    False when the sale was posted before (nothing is written twice)."""
    posting = f"sale:{order.pk}"
    if LedgerEntry.objects.filter(posting=posting).exists():
        return False
    at = at or timezone.now()
    shop = Shop.objects.only("commission_rate").get(pk=order.shop_id)
    total = order.total
    commission = quantize(total * commission_rate(shop))
    available_at = at + timedelta(days=settings.PAYOUT_DELAY_DAYS)
    lines = [
        (Account.CLEARING, Kind.SALE, -total),
        (Account.SHOP, Kind.SALE, total),
        (Account.SHOP, Kind.COMMISSION, -commission),
        (Account.COMMISSION, Kind.COMMISSION, commission),
    ]
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            posting=posting,
            account=account,
            kind=kind,
            amount=amount,
            shop_id=order.shop_id,
            order_id=order.pk,
            currency=order.currency,
            available_at=available_at,
        )
        for account, kind, amount in lines
        if amount != ZERO
    )
    return True


def ledger_post_reversal(*, order: Order, at: datetime | None = None) -> bool:
    """Reverse the order's sale (a refund of a delivered order): every entry of the sale posted
    again with the opposite sign. The shop's reversal becomes available with the sale (or at
    once, when the sale already is). Returns False when there is no sale to reverse (an order
    delivered before the ledger existed, settled outside it) or it was reversed before."""
    sale = list(LedgerEntry.objects.filter(posting=f"sale:{order.pk}"))
    posting = f"reversal:{order.pk}"
    if not sale or LedgerEntry.objects.filter(posting=posting).exists():
        return False
    at = at or timezone.now()
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            posting=posting,
            account=entry.account,
            kind=Kind.REFUND if entry.kind == Kind.SALE else entry.kind,
            amount=-entry.amount,
            shop_id=entry.shop_id,
            order_id=entry.order_id,
            currency=entry.currency,
            available_at=max(entry.available_at, at),
        )
        for entry in sale
    )
    return True


@dataclass(frozen=True)
class Balance:
    pending: Decimal
    available: Decimal
    currency: str


def shop_balance(*, shop_id: UUID, now: datetime | None = None) -> Balance:
    """The shop's balance: the sums of its `shop` entries, available or still pending."""
    now = now or timezone.now()
    sums = LedgerEntry.objects.filter(shop_id=shop_id, account=Account.SHOP).aggregate(
        pending=Sum("amount", filter=Q(available_at__gt=now), default=ZERO),
        available=Sum("amount", filter=Q(available_at__lte=now), default=ZERO),
    )
    return Balance(
        pending=quantize(sums["pending"]),
        available=quantize(sums["available"]),
        currency=settings.STORE_CURRENCY,
    )


def shop_entries(*, shop_id: UUID, kind: str | None = None) -> QuerySet[LedgerEntry]:
    """The shop's own entries (its `shop` account), newest first."""
    queryset = LedgerEntry.objects.filter(shop_id=shop_id, account=Account.SHOP)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset


def payout_create(*, shop_id: UUID, amount: Decimal, reference: str, actor: User | None) -> Payout:
    """Record a payout to a shop: debits its available balance. The shop's row is locked for
    the check and the write, so two concurrent payouts cannot both spend the same balance.

    Raises ShopNotFound, PayoutInvalid (not a positive two-place amount), PayoutExceedsBalance.
    """
    if amount <= 0 or quantize(amount) != amount:
        raise errors.PayoutInvalid(
            "A payout is a positive amount with at most two decimal places.",
            errors=[field_error("/amount", "invalid", "Positive, two places.")],
        )
    with transaction.atomic():
        shop = Shop.objects.select_for_update().filter(pk=shop_id).only("id").first()
        if shop is None:
            raise errors.ShopNotFound("No such shop.")
        now = timezone.now()
        balance = shop_balance(shop_id=shop_id, now=now)
        if amount > balance.available:
            raise errors.PayoutExceedsBalance(
                f"The shop has {balance.available} {balance.currency} available.",
                available=str(balance.available),
                currency=balance.currency,
            )
        payout = Payout.objects.create(
            shop_id=shop_id,
            amount=amount,
            currency=balance.currency,
            reference=reference,
            created_by=actor,
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                posting=f"payout:{payout.pk}",
                account=account,
                kind=Kind.PAYOUT,
                amount=signed,
                shop_id=shop_id,
                payout=payout,
                currency=balance.currency,
                available_at=now,
            )
            for account, signed in ((Account.SHOP, -amount), (Account.CLEARING, amount))
        )
        events.emit(
            payment_events.PAYOUT_CREATED,
            payout.pk,
            payment_events.payout_created_payload(payout=payout),
        )
    return payout
