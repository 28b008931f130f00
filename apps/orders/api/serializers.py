"""Input and output shapes of placement, order reads and status commands."""

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


class OrderOutput(serializers.Serializer):
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


class CheckoutOutput(serializers.Serializer):
    id = serializers.UUIDField()
    checkout_number = serializers.CharField(source="number")
    orders = serializers.SerializerMethodField()
    subtotal = _money()
    discount_total = _money()
    shipping_total = _money()
    total = _money()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(OrderOutput(many=True))
    def get_orders(self, checkout: Any) -> list[dict[str, Any]]:
        return OrderOutput(self.context["orders"], many=True).data
