from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalog.demo import EXAMPLE_VARIANT_ID
from apps.catalog.models import ProductVariant
from apps.core.openapi import demo_example, demo_path_parameter, problem_responses
from apps.core.pagination import CursorPagination, PageNumberPagination
from apps.core.permissions import IsSeller
from apps.inventory import selectors, services
from apps.inventory.api.serializers import (
    InventoryListQuery,
    InventoryRowOutput,
    StockAdjustInput,
    StockMovementOutput,
    StockThresholdInput,
)
from apps.users.request_user import request_user

TAGS = ["inventory"]


class MovementPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class SellerInventoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A seller's stock by variant: the list, the low-stock threshold, adjustments and the
    stock ledger."""

    permission_classes = [IsSeller]
    serializer_class = InventoryRowOutput
    pagination_class = PageNumberPagination
    lookup_field = "variant_id"
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[ProductVariant]:
        query = InventoryListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        user = self.request.user
        return selectors.seller_inventory_list(
            user=user,
            low_stock=query.validated_data["low_stock"],
            shop_slug=query.validated_data.get("shop") if user.is_staff else None,
        )

    @extend_schema(
        tags=TAGS,
        operation_id="seller_inventory_list",
        summary="List my shop's stock (seller)",
        parameters=[InventoryListQuery],
        description="Stock of the caller's variants (staff: every shop), `?low_stock=true`.",
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        operation_id="seller_inventory_update",
        summary="Set a variant's low-stock threshold (seller)",
        request=StockThresholdInput,
        responses={200: InventoryRowOutput},
        description="Set the low-stock threshold of a variant.",
    )
    def partial_update(self, request: Request, variant_id: UUID) -> Response:
        selectors.seller_variant_check(user=request.user, variant_id=variant_id)
        body = StockThresholdInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.stock_threshold_set(variant_id=variant_id, **body.validated_data)
        row = selectors.seller_inventory_row(user=request.user, variant_id=variant_id)
        return Response(InventoryRowOutput(row).data)

    @extend_schema(
        tags=TAGS,
        operation_id="seller_inventory_adjust",
        parameters=[
            demo_path_parameter(
                "variant_id",
                str(EXAMPLE_VARIANT_ID),
                "A variant of the caller's shop (staff: any).",
                type=OpenApiTypes.UUID,
            )
        ],
        examples=[
            demo_example(
                "A delivery",
                {"delta": 10, "reason": "restock", "note": "Delivery from the supplier"},
                login="seller1@example.com",
            )
        ],
        summary="Adjust a variant's stock (seller)",
        request=StockAdjustInput,
        responses={
            200: InventoryRowOutput,
            **problem_responses(
                codes={409: ["inventory.below_reserved", "inventory.above_maximum"]}
            ),
        },
        description=(
            "Change on_hand by `delta`. Going below what is reserved is 409 "
            "`inventory.below_reserved`, above 2,000,000,000 on hand 409 "
            "`inventory.above_maximum`; restock/return must be positive, damage negative."
        ),
    )
    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, variant_id: UUID) -> Response:
        selectors.seller_variant_check(user=request.user, variant_id=variant_id)
        body = StockAdjustInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.stock_adjust(
            variant_id=variant_id, actor=request_user(request), **body.validated_data
        )
        row = selectors.seller_inventory_row(user=request.user, variant_id=variant_id)
        return Response(InventoryRowOutput(row).data)

    @extend_schema(
        tags=TAGS,
        operation_id="seller_inventory_movements",
        summary="List a variant's stock movements (seller)",
        description="The stock ledger of a variant, newest first (cursor paginated).",
        responses=StockMovementOutput(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=StockMovementOutput,
        pagination_class=MovementPagination,
    )
    def movements(self, request: Request, variant_id: UUID) -> Response:
        selectors.seller_variant_check(user=request.user, variant_id=variant_id)
        page = self.paginate_queryset(selectors.stock_movements(variant_id=variant_id))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
