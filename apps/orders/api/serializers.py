"""Input and output shapes of placement, order reads and status commands."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.api.checkout_review import CheckoutReviewInput
from apps.orders.models import Order
from apps.orders.status import ROLES
from apps.users.api.serializers import AddressSerializer


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderPlaceInput(CheckoutReviewInput):
    """The checkout review body plus where to ship and how to pay. Prices, totals, statuses
    and the buyer are never read from the body."""

    address_id = serializers.UUIDField(required=False, help_text="an address of your book")
    payment_method = serializers.ChoiceField(
        choices=Order.PaymentMethod.choices, default=Order.PaymentMethod.CASH_ON_DELIVERY
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "shipping_address" not in attrs and "address_id" not in attrs:
            raise serializers.ValidationError(
                {"shipping_address": ["Send shipping_address or address_id."]}, code="required"
            )
        if "shipping_address" in attrs and "address_id" in attrs:
            raise serializers.ValidationError(
                {"address_id": ["Send shipping_address or address_id, not both."]},
                code="invalid",
            )
        return attrs


class OrderListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class SellerOrderListQuery(OrderListQuery):
    shop = serializers.CharField(required=False, help_text="staff only: a shop slug or id")


class OrderCancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderTransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=Order.Status.choices)
    tracking_number = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    reason = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="on cancel"
    )
    restock = serializers.BooleanField(
        required=False,
        default=False,
        help_text="on refund: the goods came back, return them to stock",
    )


class OrderShopRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class OrderBuyerRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class OrderLineOutput(serializers.Serializer):
    id = serializers.UUIDField()
    product_id = serializers.UUIDField(allow_null=True)
    variant_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField(source="product_name")
    sku = serializers.CharField()
    options = serializers.DictField()
    unit_price = _money()
    quantity = serializers.IntegerField()
    discount = _money()
    line_total = _money()


class OrderHistoryOutput(serializers.Serializer):
    status = serializers.CharField(source="to_status")
    from_status = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")
    actor = serializers.ChoiceField(source="actor_role", choices=ROLES)
    note = serializers.CharField()


def _money_str(value: Decimal) -> str:
    return f"{value:.2f}"


def _time_str(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_as_dict(
    order: Any, *, lines: Iterable[Any] | None = None, history: Iterable[Any] | None = None
) -> dict[str, Any]:
    """OrderOutput's shape without DRF's per-field machinery (placement and order lists are hot
    paths). `order` needs shop, buyer and checkout loaded, and its lines and history prefetched
    (selectors do it) unless they are given (a placement hands over the rows it wrote)."""
    if lines is None:
        lines = order.lines.all()
    if history is None:
        history = order.history.all()
    return {
        "id": str(order.pk),
        "number": order.number,
        "checkout_number": order.checkout.number,
        "shop": {"id": str(order.shop.pk), "slug": order.shop.slug, "name": order.shop.name},
        "buyer": {"id": str(order.buyer.pk), "name": order.buyer.name},
        "status": order.status,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "lines": [
            {
                "id": str(line.pk),
                "product_id": None if line.product_id is None else str(line.product_id),
                "variant_id": None if line.variant_id is None else str(line.variant_id),
                "name": line.product_name,
                "sku": line.sku,
                "options": line.options,
                "unit_price": _money_str(line.unit_price),
                "quantity": line.quantity,
                "discount": _money_str(line.discount),
                "line_total": _money_str(line.line_total),
            }
            for line in lines
        ],
        "subtotal": _money_str(order.subtotal),
        "discount_total": _money_str(order.discount_total),
        "shipping_fee": _money_str(order.shipping_fee),
        "total": _money_str(order.total),
        "currency": order.currency,
        "shipping_address": {name: order.shipping_address.get(name, "") for name in ADDRESS_KEYS},
        "tracking_number": order.tracking_number,
        "cancel_reason": order.cancel_reason,
        "cancelled_by": order.cancelled_by,
        "history": [
            {
                "status": change.to_status,
                "from_status": change.from_status,
                "at": _time_str(change.created_at),
                "actor": change.actor_role,
                "note": change.note,
            }
            for change in history
        ],
        "created_at": _time_str(order.created_at),
        "updated_at": _time_str(order.updated_at),
    }


ADDRESS_KEYS = ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")


# Declares the shape for the schema; the data comes from order_as_dict.
class OrderOutput(serializers.Serializer):
    """One shop's order of a checkout: line snapshots, totals, address, status and history."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return order_as_dict(instance)

    id = serializers.UUIDField()
    number = serializers.CharField()
    checkout_number = serializers.CharField(source="checkout.number")
    shop = OrderShopRefOutput()
    buyer = OrderBuyerRefOutput()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    payment_method = serializers.ChoiceField(choices=Order.PaymentMethod.choices)
    payment_status = serializers.ChoiceField(choices=Order.PaymentStatus.choices)
    lines = OrderLineOutput(many=True)
    subtotal = _money()
    discount_total = _money()
    shipping_fee = _money()
    total = _money()
    currency = serializers.CharField()
    shipping_address = AddressSerializer()
    tracking_number = serializers.CharField()
    cancel_reason = serializers.CharField()
    cancelled_by = serializers.CharField()
    history = OrderHistoryOutput(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# What a checkout's payment may be (the payment method that makes it says which applies).
CHECKOUT_PAYMENT_STATUSES = [
    "awaiting_payment",
    "failed",
    "paid",
    "refunded",
    "cancelled",
    "flagged",
]


class PaymentErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="e.g. `payment.provider_unavailable`")
    detail = serializers.CharField()


class CheckoutPaymentOutput(serializers.Serializer):
    """The checkout's payment (apps.orders.payment_methods.CheckoutPayment); null for cash on
    delivery."""

    id = serializers.UUIDField()
    provider = serializers.CharField(help_text="`stripe` (or `demo` in the demo setup)")
    status = serializers.ChoiceField(choices=CHECKOUT_PAYMENT_STATUSES)
    amount = _money()
    currency = serializers.CharField()
    client_secret = serializers.CharField(
        allow_null=True,
        help_text="for the provider's client library (Stripe.js); null while no payment intent "
        "could be created (see `error`): POST /checkouts/{number}/pay makes one",
    )
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="unpaid orders are cancelled at this time"
    )
    error = PaymentErrorOutput(allow_null=True)


class CheckoutOutput(serializers.Serializer):
    id = serializers.UUIDField()
    checkout_number = serializers.CharField(source="number")
    orders = serializers.SerializerMethodField()
    subtotal = _money()
    discount_total = _money()
    shipping_total = _money()
    total = _money()
    currency = serializers.CharField()
    payment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(OrderOutput(many=True))
    def get_orders(self, checkout: Any) -> list[dict[str, Any]]:
        # A fresh placement also passes the rows it wrote ("placed_rows": order id -> PlacedRows).
        placed = self.context.get("placed_rows") or {}
        return [
            order_as_dict(order, **placed[order.pk]._asdict())
            if order.pk in placed
            else order_as_dict(order)
            for order in self.context["orders"]
        ]

    @extend_schema_field(CheckoutPaymentOutput(allow_null=True))
    def get_payment(self, checkout: Any) -> dict[str, Any] | None:
        # Set by the placement (order_place) or by whoever read the checkout for the response.
        return getattr(checkout, "payment", None)
