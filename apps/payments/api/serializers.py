"""Input and output shapes of checkouts' payments, the seller balance and payouts."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.slugs import id_first, id_or_slug
from apps.orders.api.serializers import CheckoutOutput, CheckoutPaymentOutput
from apps.payments.intents import payment_summary
from apps.payments.models import LedgerEntry, Payment, Refund
from apps.shops.models import Shop


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2)


class RefundOutput(serializers.Serializer):
    id = serializers.UUIDField()
    order_id = serializers.UUIDField(allow_null=True)
    amount = _money()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    reason = serializers.ChoiceField(choices=["cancel", "refund", "late_payment", "flagged"])
    created_at = serializers.DateTimeField()


class PaymentDetailOutput(CheckoutPaymentOutput):
    amount_refunded = _money()
    refunds = RefundOutput(many=True)


def payment_detail(payment: Payment) -> dict[str, Any]:
    return {
        **payment_summary(payment),
        "amount_refunded": f"{payment.amount_refunded:.2f}",
        "refunds": RefundOutput(payment.refunds.all(), many=True).data,
    }


class CheckoutDetailOutput(CheckoutOutput):
    """The checkout, its orders and its payment (null for cash on delivery)."""

    @extend_schema_field(PaymentDetailOutput(allow_null=True))
    def get_payment(self, checkout: Any) -> dict[str, Any] | None:
        payment = self.context.get("payment")
        return None if payment is None else payment_detail(payment)


class BalanceQuery(serializers.Serializer):
    shop = serializers.CharField(
        required=False, max_length=140, help_text="staff only: a shop's slug or id"
    )


class BalanceOutput(serializers.Serializer):
    pending = _money()
    available = _money()
    currency = serializers.CharField()


class EntryListQuery(BalanceQuery):
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices, required=False)


class EntryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    order_id = serializers.UUIDField(allow_null=True)
    payout_id = serializers.UUIDField(allow_null=True)
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices)
    amount = _money()
    currency = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")
    available_at = serializers.DateTimeField()


class PayoutInput(serializers.Serializer):
    shop = serializers.CharField(max_length=140, help_text="the shop's slug or id")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reference = serializers.CharField(max_length=100, help_text="the bank transfer's reference")

    def validate_shop(self, value: str) -> Shop:
        shop = Shop.objects.filter(id_or_slug(value)).order_by(*id_first(value)).first()
        if shop is None:
            raise serializers.ValidationError("No such shop.", code="does_not_exist")
        return shop


class PayoutListQuery(serializers.Serializer):
    shop = serializers.CharField(required=False, max_length=140, help_text="a shop's slug or id")


class PayoutShopOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class PayoutOutput(serializers.Serializer):
    id = serializers.UUIDField()
    shop = PayoutShopOutput()
    amount = _money()
    currency = serializers.CharField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()
