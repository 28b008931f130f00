"""Payment reads, scoped to what the caller may see: a buyer their own checkouts, a seller their
shop's balance, staff everything. Anything else is 404, never 403, so numbers cannot be probed."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.core.slugs import id_first, id_or_slug
from apps.orders.models import Checkout, Order
from apps.orders.selectors import orders_with_details
from apps.payments import errors
from apps.payments.models import Payment, Payout, Refund
from apps.shops.models import Shop
from apps.users.models import User


def checkout_for_buyer(*, user: User, number: str, own_only: bool = False) -> Checkout:
    """The caller's checkout by number (staff: any, unless `own_only`)."""
    mine = Checkout.objects.filter(buyer=user)
    queryset = Checkout.objects.all() if user.is_staff and not own_only else mine
    checkout = queryset.filter(number=number).first()
    if checkout is None:
        raise errors.CheckoutNotFound("No such checkout.")
    return checkout


def checkout_orders(checkout: Checkout) -> list[Order]:
    """The checkout's orders with what OrderOutput shows, in placement order."""
    orders = orders_with_details(Order.objects.filter(checkout=checkout))
    return sorted(orders, key=lambda order: int(order.number.rsplit("-", 1)[1]))


def checkout_payment(checkout: Checkout) -> Payment | None:
    payment = (
        Payment.objects.filter(checkout=checkout)
        .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("created_at")))
        .first()
    )
    if payment is not None:
        payment.checkout = checkout
    return payment


def seller_shop(*, user: User, shop: str | None = None) -> Shop:
    """The caller's shop; staff name one (`shop`: slug or id). A seller naming a shop that is not
    theirs gets ShopNotFound, as for a shop that does not exist (never another's balance, nor
    silently their own)."""
    if user.is_staff and shop:
        found = Shop.objects.filter(id_or_slug(shop)).order_by(*id_first(shop)).first()
    else:
        found = Shop.objects.filter(owner=user).first()
        if found is not None and shop and shop not in (str(found.pk), found.slug):
            found = None
    if found is None:
        raise errors.ShopNotFound("No such shop.")
    return found


def payouts(*, shop: Shop | None = None) -> QuerySet[Payout]:
    queryset = Payout.objects.select_related("shop", "created_by")
    if shop is not None:
        queryset = queryset.filter(shop=shop)
    return queryset
