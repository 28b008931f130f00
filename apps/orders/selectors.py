"""Order reads, scoped to what the caller may see: a buyer their own orders, a seller the orders
of their shop, staff everything. Anything else is OrderNotFound (404), never 403, so ids cannot
be probed."""

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from apps.orders.errors import OrderNotFound
from apps.orders.models import Order, OrderLine, OrderStatusChange
from apps.users.models import User


def orders_with_details(queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders with what OrderOutput shows: shop, buyer and checkout joined, lines and history
    prefetched (three queries for any number of orders)."""
    queryset = queryset if queryset is not None else Order.objects.all()
    return queryset.select_related("shop", "buyer", "checkout").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("created_at", "sku")),
        Prefetch(
            "history",
            queryset=OrderStatusChange.objects.select_related("actor").order_by("created_at"),
        ),
    )


def buyer_orders(*, user: User, status: str | None = None) -> QuerySet[Order]:
    """The caller's own purchases (for staff too: this is the buyer's feed)."""
    queryset = Order.objects.filter(buyer=user)
    if status:
        queryset = queryset.filter(status=status)
    return orders_with_details(queryset)


def buyer_order_get(*, user: User, order_id: UUID) -> Order:
    """One of the caller's orders; staff may open any order."""
    queryset = Order.objects.all() if user.is_staff else Order.objects.filter(buyer=user)
    order = orders_with_details(queryset).filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound("No such order.")
    return order


def _seller_scope(user: User) -> QuerySet[Order]:
    if user.is_staff:
        return Order.objects.all()
    return Order.objects.filter(shop__owner=user)


def seller_orders(
    *, user: User, status: str | None = None, shop: str | None = None
) -> QuerySet[Order]:
    """Orders of the caller's shop (staff: every shop; `shop` = slug or id narrows)."""
    queryset = _seller_scope(user)
    if status:
        queryset = queryset.filter(status=status)
    if shop and user.is_staff:
        try:
            queryset = queryset.filter(shop_id=UUID(shop))
        except ValueError:
            queryset = queryset.filter(shop__slug=shop)
    return orders_with_details(queryset)


def seller_order_get(*, user: User, order_id: UUID) -> Order:
    order = orders_with_details(_seller_scope(user)).filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound("No such order.")
    return order


def seller_order_role(*, user: User, order_id: UUID) -> str:
    """What the caller acts as on a seller endpoint: `seller` for the shop's owner, `staff`
    otherwise. Raises OrderNotFound when the caller may not see the order."""
    owner_id = _seller_scope(user).filter(pk=order_id).values_list("shop__owner_id", flat=True)
    owner = owner_id.first()
    if owner is None:
        raise OrderNotFound("No such order.")
    return "seller" if owner == user.pk else "staff"


def buyer_order_role(*, user: User, order_id: UUID) -> str:
    """`buyer` for the order's buyer, `staff` for staff; OrderNotFound otherwise."""
    queryset = Order.objects.all() if user.is_staff else Order.objects.filter(buyer=user)
    buyer_id = queryset.filter(pk=order_id).values_list("buyer_id", flat=True).first()
    if buyer_id is None:
        raise OrderNotFound("No such order.")
    return "buyer" if buyer_id == user.pk else "staff"
