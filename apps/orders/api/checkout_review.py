"""POST /checkout/review and POST /discounts/validate.

Both price from the database through orders.pricing (the loader and the pure pricing function
that order placement uses too); prices sent by the client are never read. The validate endpoint
lives here rather than in the discounts app because its default lines are the caller's cart and
discounts sit below the cart in the dependency order.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from apps.catalog.demo import EXAMPLE_VARIANT_ID
from apps.core.money import ZERO
from apps.core.openapi import demo_example, problem_responses
from apps.core.permissions import IsAuthenticatedUser
from apps.core.throttling import DiscountCheckThrottle
from apps.discounts.evaluation import DiscountableLine, discount_evaluate
from apps.inventory.api.serializers import ProductRefOutput
from apps.orders.pricing import (
    CheckoutQuote,
    CodeInput,
    ItemInput,
    load_checkout,
    price_checkout,
)
from apps.users.api.serializers import AddressSerializer, ShopRefOutput
from apps.users.request_user import request_user

MAX_ITEMS = 200
MAX_CODES = 20


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2)


class CheckoutItemInput(serializers.Serializer):
    variant_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class CheckoutCodeInput(serializers.Serializer):
    shop = serializers.CharField(max_length=140, help_text="shop slug or id")
    code = serializers.CharField(max_length=64)


# The ignores: with many=True DRF hands max_length to the ListSerializer (LIST_SERIALIZER_KWARGS);
# the stubs' Serializer.__init__ does not list it.
class CheckoutReviewInput(serializers.Serializer):
    items = CheckoutItemInput(many=True, required=False, max_length=MAX_ITEMS)  # type: ignore[call-arg]
    discounts = CheckoutCodeInput(many=True, required=False, max_length=MAX_CODES)  # type: ignore[call-arg]
    shipping_address = AddressSerializer(required=False)


class CheckoutLineOutput(serializers.Serializer):
    id = serializers.UUIDField(
        allow_null=True, help_text="the cart item, when priced from the cart"
    )
    variant_id = serializers.UUIDField()
    sku = serializers.CharField()
    product = ProductRefOutput()
    options = serializers.DictField()
    unit_price = _money()
    quantity = serializers.IntegerField()
    line_total = _money()
    discount = _money()
    total = _money()
    available_quantity = serializers.IntegerField()


class AppliedDiscountOutput(serializers.Serializer):
    code = serializers.CharField()
    amount = _money()


class ShopQuoteOutput(serializers.Serializer):
    shop = ShopRefOutput()
    items = CheckoutLineOutput(many=True)
    subtotal = _money()
    discounts = AppliedDiscountOutput(many=True)
    discount_total = _money()
    shipping_fee = _money()
    total = _money()


class CheckoutWarningOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    variant_id = serializers.UUIDField()
    sku = serializers.CharField()
    available = serializers.IntegerField(required=False)
    requested = serializers.IntegerField(required=False)


class CheckoutReviewOutput(serializers.Serializer):
    shops = ShopQuoteOutput(many=True)
    subtotal = _money()
    discount_total = _money()
    shipping_total = _money()
    total = _money()
    currency = serializers.CharField()
    warnings = CheckoutWarningOutput(many=True)
    shipping_address = AddressSerializer(required=False)


def quote_as_dict(quote: CheckoutQuote) -> dict[str, Any]:
    """The API shape of a quote (also usable by the orders engineer's responses)."""
    return {
        "shops": [
            {
                "shop": {"id": q.shop.id, "slug": q.shop.slug, "name": q.shop.name},
                "items": [
                    {
                        "id": ql.line.cart_item_id,
                        "variant_id": ql.line.variant_id,
                        "sku": ql.line.sku,
                        "product": {
                            "id": ql.line.product_id,
                            "name": ql.line.product_name,
                            "slug": ql.line.product_slug,
                        },
                        "options": ql.line.options,
                        "unit_price": ql.line.unit_price,
                        "quantity": ql.line.quantity,
                        "line_total": ql.line_total,
                        "discount": ql.discount,
                        "total": ql.total,
                        "available_quantity": ql.line.stock_available,
                    }
                    for ql in q.lines
                ],
                "subtotal": q.subtotal,
                "discounts": [{"code": d.code, "amount": d.amount} for d in q.discounts],
                "discount_total": q.discount_total,
                "shipping_fee": q.shipping_fee,
                "total": q.total,
            }
            for q in quote.shops
        ],
        "subtotal": quote.subtotal,
        "discount_total": quote.discount_total,
        "shipping_total": quote.shipping_total,
        "total": quote.total,
        "currency": quote.currency,
        "warnings": list(quote.warnings),
    }


def items_from(validated: dict[str, Any]) -> list[ItemInput] | None:
    if "items" not in validated:
        return None
    return [
        ItemInput(variant_id=i["variant_id"], quantity=i["quantity"]) for i in validated["items"]
    ]


# The refusals of a code against lines (discount_evaluate), documented by both operations.
DISCOUNT_REFUSALS = [
    "discount.inactive",
    "discount.not_started",
    "discount.expired",
    "discount.min_order_value",
    "discount.usage_limit",
    "discount.user_usage_limit",
    "discount.not_applicable",
]
NOT_FOUND_CODES = ["discount.not_found", "cart.variant_not_found"]


class CheckoutReviewViewSet(viewsets.ViewSet):
    """The checkout before it is placed: `review` prices it."""

    permission_classes = [IsAuthenticatedUser]

    def get_throttles(self) -> list[BaseThrottle]:
        """A review that names codes checks them: it counts against `discount_check` too."""
        throttles = super().get_throttles()
        data = self.request.data if self.request is not None else None
        if isinstance(data, dict) and data.get("discounts"):
            throttles = [*throttles, DiscountCheckThrottle()]
        return throttles

    @extend_schema(
        operation_id="checkout_review",
        examples=[
            demo_example(
                "Items and a code",
                {
                    "items": [{"variant_id": str(EXAMPLE_VARIANT_ID), "quantity": 3}],
                    "discounts": [{"shop": "northwind-electronics", "code": "SAVE15"}],
                },
                login="customer@example.com",
                summary="Three demo speakers with the shop's SAVE15 code",
            )
        ],
        summary="Price a checkout",
        request=CheckoutReviewInput,
        responses={
            200: CheckoutReviewOutput,
            **problem_responses(
                codes={404: NOT_FOUND_CODES, 422: [*DISCOUNT_REFUSALS, "discount.not_combinable"]}
            ),
        },
        description=(
            "Price the caller's cart (or explicit `items`) with discount codes, per shop. "
            "Prices always come from the database."
        ),
    )
    @action(detail=False, methods=["post"])
    def review(self, request: Request) -> Response:
        body = CheckoutReviewInput(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        data = load_checkout(
            user=request_user(request),
            items=items_from(body.validated_data),
            codes=[
                CodeInput(shop=c["shop"], code=c["code"])
                for c in body.validated_data.get("discounts", [])
            ],
            now=now,
        )
        quote = price_checkout(
            lines=data.lines,
            shops=data.shops,
            discounts_by_shop=data.discounts_by_shop,
            user_usage=data.user_usage,
            now=now,
        )
        result = quote_as_dict(quote)
        if "shipping_address" in body.validated_data:
            result["shipping_address"] = body.validated_data["shipping_address"]
        return Response(CheckoutReviewOutput(result).data)


class DiscountValidateInput(serializers.Serializer):
    shop = serializers.CharField(max_length=140, help_text="shop slug or id")
    code = serializers.CharField(max_length=64)
    items = CheckoutItemInput(many=True, required=False, max_length=MAX_ITEMS)  # type: ignore[call-arg]  # as above


class DiscountValidateOutput(serializers.Serializer):
    code = serializers.CharField()
    eligible_subtotal = _money()
    discount_amount = _money()
    currency = serializers.CharField()


class DiscountValidateViewSet(viewsets.ViewSet):
    """Discount codes checked against lines: `validate`, its one command, is throttled
    (`discount_check`)."""

    permission_classes = [IsAuthenticatedUser]

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), DiscountCheckThrottle()]

    @extend_schema(
        operation_id="discounts_validate",
        examples=[
            demo_example(
                "SAVE15 on three speakers",
                {
                    "shop": "northwind-electronics",
                    "code": "SAVE15",
                    "items": [{"variant_id": str(EXAMPLE_VARIANT_ID), "quantity": 3}],
                },
                login="customer@example.com",
            )
        ],
        summary="Check a discount code",
        request=DiscountValidateInput,
        responses={
            200: DiscountValidateOutput,
            **problem_responses(codes={404: NOT_FOUND_CODES, 422: DISCOUNT_REFUSALS}),
        },
        description=(
            "Check one code against `items` (default: the caller's cart lines of that shop). "
            "Refusals are 422 with a discount.* code; an unknown code is 404 discount.not_found. "
            "A private code that the caller has not used and whose shop is not theirs is 404 "
            "discount.not_found, as an unknown code is, while it is inactive, not started, "
            "expired or used up. Throttled (`discount_check`)."
        ),
    )
    @action(detail=False, methods=["post"])
    def validate(self, request: Request) -> Response:
        body = DiscountValidateInput(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        data = load_checkout(
            user=request_user(request),
            items=items_from(body.validated_data),
            codes=[CodeInput(shop=body.validated_data["shop"], code=body.validated_data["code"])],
            now=now,
        )
        ((shop_id, (rule,)),) = data.discounts_by_shop.items()
        lines = [
            DiscountableLine(
                key=line.variant_id,
                product_id=line.product_id,
                category_path=line.category_path,
                amount=line.unit_price * line.quantity,
            )
            for line in data.lines
            if line.shop_id == shop_id and line.for_sale
        ]
        evaluation = discount_evaluate(
            rule=rule, lines=lines, now=now, user_uses=data.user_usage.get(rule.id, 0)
        )
        return Response(
            DiscountValidateOutput(
                {
                    "code": evaluation.code,
                    "eligible_subtotal": evaluation.eligible_subtotal,
                    "discount_amount": max(evaluation.amount, ZERO),
                    "currency": settings.STORE_CURRENCY,
                }
            ).data
        )
