"""Buyer and seller order endpoints. Thin: validate, call one service or selector, serialize."""

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalog.demo import EXAMPLE_VARIANT_ID
from apps.core.openapi import demo_example, problem_responses
from apps.core.pagination import CursorPagination
from apps.core.permissions import EmailVerified, IsAuthenticatedUser, IsSeller
from apps.orders import selectors, services
from apps.orders.api.checkout_review import DISCOUNT_REFUSALS, NOT_FOUND_CODES, items_from
from apps.orders.api.serializers import (
    CheckoutOutput,
    OrderCancelInput,
    OrderListQuery,
    OrderOutput,
    OrderPlaceInput,
    OrderTransitionInput,
    SellerOrderListQuery,
)
from apps.orders.models import Checkout, Order
from apps.orders.pricing import CodeInput
from apps.users.request_user import request_user

TAGS = ["orders"]
SELLER_TAGS = ["seller orders"]


def checkout_response_data(checkout: Checkout) -> dict[str, Any]:
    """The placement response: the checkout with its orders in full. A fresh placement hands
    over the rows it wrote (no re-read); a replay by idempotency key reads them back."""
    orders = getattr(checkout, "placed_orders", None)
    placed_rows = getattr(checkout, "placed_rows", None)
    if orders is None:
        orders = sorted(
            selectors.orders_with_details(Order.objects.filter(checkout=checkout)),
            key=lambda order: int(order.number.rsplit("-", 1)[1]),
        )
    return CheckoutOutput(checkout, context={"orders": orders, "placed_rows": placed_rows}).data


class OrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own orders: list, place, read one, cancel."""

    # EmailVerified refuses writes only: placing needs a verified address, reading does not.
    permission_classes = [IsAuthenticatedUser, EmailVerified]
    serializer_class = OrderOutput
    pagination_class = CursorPagination
    lookup_url_kwarg = "order_id"
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        query = OrderListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.buyer_orders(
            user=request_user(self.request), status=query.validated_data.get("status")
        )

    @extend_schema(
        tags=TAGS,
        operation_id="orders_list",
        summary="List my orders",
        parameters=[OrderListQuery],
        description="The caller's own orders, newest first (cursor pagination), `?status=`.",
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        operation_id="orders_place",
        examples=[
            demo_example(
                "One speaker, cash on delivery",
                {
                    "items": [{"variant_id": str(EXAMPLE_VARIANT_ID), "quantity": 1}],
                    "shipping_address": {
                        "name": "Casey Customer",
                        "line1": "12 Market Street",
                        "city": "Portland",
                        "state": "OR",
                        "postal_code": "97201",
                        "country": "US",
                        "phone": "+15035550123",
                    },
                    "payment_method": "cash_on_delivery",
                },
                login="customer@example.com",
            )
        ],
        summary="Place an order",
        request=OrderPlaceInput,
        responses={
            201: CheckoutOutput,
            **problem_responses(
                codes={
                    404: NOT_FOUND_CODES,
                    409: ["inventory.insufficient_stock", "order.checkout_changed"],
                    422: [
                        "order.empty",
                        "order.too_many_open_orders",
                        "order.variant_quantity_limit",
                        *DISCOUNT_REFUSALS,
                        "discount.not_combinable",
                        "cart.line_quantity_limit",
                        "idempotency.key_reused",
                    ],
                }
            ),
        },
        description=(
            "Place the cart (or explicit `items`) as one order per shop: prices from the "
            "database, discount uses redeemed, stock reserved and the bought cart lines "
            "removed, all or nothing. Refusals: 422 `order.empty`, 404 for an item not for "
            "sale, 409 `inventory.insufficient_stock` (with `sku` and `available`), the "
            "discount refusals, 400 with pointers for an invalid address. A buyer holds at "
            "most `ORDER_MAX_OPEN_UNPAID` (10) open unpaid orders (pending or confirmed) and "
            "`ORDER_MAX_UNITS_PER_VARIANT` (20) units of one variant across them: 422 "
            "`order.too_many_open_orders` (`limit`, `open_orders`, `new_orders`) and "
            "`order.variant_quantity_limit` (`sku`, `variant_id`, `limit`, `held`, "
            "`requested`). Send an `Idempotency-Key` to make retries safe. With "
            "`payment_method: card` the orders start `awaiting_payment` and `payment` carries "
            "the provider's `client_secret` (null, with `payment.error`, when the provider could "
            "not be reached: the orders stand and POST /checkouts/{number}/pay retries); unpaid "
            "orders are cancelled after the payment window (`payment_expired`). A card "
            "checkout is priced, and its payment started, before the placement: prices, "
            "discounts or shipping that change in between are 409 `order.checkout_changed` "
            "(`total`, `quoted_total`), nothing placed."
        ),
    )
    def create(self, request: Request) -> Response:
        body = OrderPlaceInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        checkout = services.order_place(
            buyer=request_user(request),
            items=items_from(data),
            discounts=[
                CodeInput(shop=c["shop"], code=c["code"]) for c in data.get("discounts", [])
            ],
            shipping_address=data.get("shipping_address"),
            address_id=data.get("address_id"),
            payment_method=data["payment_method"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(checkout_response_data(checkout), status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        operation_id="orders_retrieve",
        summary="Get one of my orders",
        responses=OrderOutput,
        description="One of the caller's orders with lines, totals, address and history.",
    )
    def retrieve(self, request: Request, order_id: UUID) -> Response:
        order = selectors.buyer_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)

    @extend_schema(
        tags=TAGS,
        operation_id="orders_cancel",
        summary="Cancel one of my orders",
        request=OrderCancelInput,
        responses={200: OrderOutput, 409: OpenApiResponse(description="order.invalid_transition")},
        description=(
            "Cancel a pending or confirmed order: its stock and discount uses are released. "
            "Any other status is 409 `order.invalid_transition`."
        ),
    )
    # Cancelling is open to an unverified account (it costs no one anything).
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticatedUser])
    def cancel(self, request: Request, order_id: UUID) -> Response:
        role = selectors.buyer_order_role(user=request_user(request), order_id=order_id)
        body = OrderCancelInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.order_cancel(
            order_id=order_id,
            actor=request_user(request),
            actor_role=role,
            reason=body.validated_data["reason"],
        )
        order = selectors.buyer_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)


class SellerOrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The orders of the caller's shop (staff: every shop): list, read one, move it on."""

    permission_classes = [IsSeller]
    serializer_class = OrderOutput
    pagination_class = CursorPagination
    lookup_url_kwarg = "order_id"
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        query = SellerOrderListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.seller_orders(
            user=request_user(self.request),
            status=query.validated_data.get("status"),
            shop=query.validated_data.get("shop"),
        )

    @extend_schema(
        tags=SELLER_TAGS,
        operation_id="seller_orders_list",
        summary="List my shop's orders (seller)",
        parameters=[SellerOrderListQuery],
        description="Orders of the caller's shop (staff: every shop), newest first, `?status=`.",
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=SELLER_TAGS,
        operation_id="seller_orders_retrieve",
        summary="Get one of my shop's orders (seller)",
        responses=OrderOutput,
        description="One order of the caller's shop.",
    )
    def retrieve(self, request: Request, order_id: UUID) -> Response:
        order = selectors.seller_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)

    @extend_schema(
        tags=SELLER_TAGS,
        operation_id="seller_orders_transition",
        summary="Move an order to its next status (seller)",
        request=OrderTransitionInput,
        responses={200: OrderOutput, 409: OpenApiResponse(description="order.invalid_transition")},
        description=(
            "Move an order: pending→confirmed→shipped→delivered, pending|confirmed→cancelled, "
            "delivered→refunded; anything else 409 `order.invalid_transition`. `shipped` records "
            "`tracking_number` when given (optional: a seller's own courier has none); "
            "`restock: true` on a refund returns the goods to stock."
        ),
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, order_id: UUID) -> Response:
        role = selectors.seller_order_role(user=request_user(request), order_id=order_id)
        body = OrderTransitionInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.order_transition(
            order_id=order_id, actor=request_user(request), actor_role=role, **body.validated_data
        )
        order = selectors.seller_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)
