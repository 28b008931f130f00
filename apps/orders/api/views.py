"""Buyer and seller order endpoints. Thin: validate, call one service or selector, serialize."""

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import CursorPagination
from apps.core.permissions import IsAuthenticatedUser, IsSeller
from apps.orders import selectors, services
from apps.orders.api.checkout_review import items_from
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
    if orders is None:
        orders = sorted(
            selectors.orders_with_details(Order.objects.filter(checkout=checkout)),
            key=lambda order: int(order.number.rsplit("-", 1)[1]),
        )
    return CheckoutOutput(checkout, context={"orders": orders}).data


class OrderListCreateApi(generics.ListAPIView):
    permission_classes = [IsAuthenticatedUser]
    serializer_class = OrderOutput
    pagination_class = CursorPagination

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
        parameters=[OrderListQuery],
        description="The caller's own orders, newest first (cursor pagination), `?status=`.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        operation_id="orders_place",
        request=OrderPlaceInput,
        responses={201: CheckoutOutput},
        description=(
            "Place the cart (or explicit `items`) as one order per shop: prices from the "
            "database, discount uses redeemed, stock reserved and the bought cart lines "
            "removed, all or nothing. Refusals: 422 `order.empty`, 404 for an item not for "
            "sale, 409 `inventory.insufficient_stock` (with `sku` and `available`), the "
            "discount refusals, 400 with pointers for an invalid address. Send an "
            "`Idempotency-Key` to make retries safe."
        ),
    )
    def post(self, request: Request) -> Response:
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


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=TAGS,
        operation_id="orders_retrieve",
        responses=OrderOutput,
        description="One of the caller's orders with lines, totals, address and history.",
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        order = selectors.buyer_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)


class OrderCancelApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=TAGS,
        operation_id="orders_cancel",
        request=OrderCancelInput,
        responses={200: OrderOutput, 409: OpenApiResponse(description="order.invalid_transition")},
        description=(
            "Cancel a pending or confirmed order: its stock and discount uses are released. "
            "Any other status is 409 `order.invalid_transition`."
        ),
    )
    def post(self, request: Request, order_id: UUID) -> Response:
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


class SellerOrderListApi(generics.ListAPIView):
    permission_classes = [IsSeller]
    serializer_class = OrderOutput
    pagination_class = CursorPagination

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
        parameters=[SellerOrderListQuery],
        description="Orders of the caller's shop (staff: every shop), newest first, `?status=`.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SellerOrderDetailApi(APIView):
    permission_classes = [IsSeller]

    @extend_schema(
        tags=SELLER_TAGS,
        operation_id="seller_orders_retrieve",
        responses=OrderOutput,
        description="One order of the caller's shop.",
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        order = selectors.seller_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)


class SellerOrderTransitionApi(APIView):
    permission_classes = [IsSeller]

    @extend_schema(
        tags=SELLER_TAGS,
        operation_id="seller_orders_transition",
        request=OrderTransitionInput,
        responses={200: OrderOutput, 409: OpenApiResponse(description="order.invalid_transition")},
        description=(
            "Move an order: pending→confirmed→shipped→delivered, pending|confirmed→cancelled, "
            "delivered→refunded; anything else 409 `order.invalid_transition`. `shipped` records "
            "`tracking_number` when given (optional: a seller's own courier has none); "
            "`restock: true` on a refund returns the goods to stock."
        ),
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        role = selectors.seller_order_role(user=request_user(request), order_id=order_id)
        body = OrderTransitionInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.order_transition(
            order_id=order_id, actor=request_user(request), actor_role=role, **body.validated_data
        )
        order = selectors.seller_order_get(user=request_user(request), order_id=order_id)
        return Response(OrderOutput(order).data)
