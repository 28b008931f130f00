import uuid

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from apps.core.openapi import demo_example
from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsSeller
from apps.core.throttling import DiscountCheckThrottle
from apps.discounts import selectors, services
from apps.discounts.api.serializers import (
    DiscountInput,
    DiscountOutput,
    DiscountProductOutput,
    DiscountProductsQuery,
    PublicDiscountOutput,
    SellerDiscountListQuery,
)
from apps.users.request_user import request_user

SELLER_SCOPE = (
    "Sellers act on their own shop's codes (another shop's code is 404 `discount.not_found`); "
    "staff on every shop's."
)


class SellerDiscountViewSet(viewsets.GenericViewSet):
    """A seller's discount codes (staff: every shop's)."""

    permission_classes = [IsSeller]
    pagination_class = PageNumberPagination  # also tells the schema the list is paged
    serializer_class = DiscountInput  # what OPTIONS describes
    lookup_field = "discount_id"
    lookup_value_converter = "uuid"

    @extend_schema(
        operation_id="seller_discounts_list",
        summary="List my shop's discount codes (seller)",
        responses=DiscountOutput(many=True),
        parameters=[
            SellerDiscountListQuery,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        description=(
            "The codes of the caller's shop, newest first; staff get every shop's codes, "
            "`?shop=` (slug or id) narrows them to one shop."
        ),
    )
    def list(self, request: Request) -> Response:
        query = SellerDiscountListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.seller_discount_list(
            user=request_user(request), shop=query.validated_data.get("shop")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DiscountOutput(page, many=True).data)

    @extend_schema(
        operation_id="seller_discounts_create",
        examples=[
            demo_example(
                "20% off, at most 100.00",
                {
                    "code": "SPRING20",
                    "name": "Spring sale: 20% off",
                    "type": "percentage",
                    "value": "20.00",
                    "max_discount_amount": "100.00",
                    "min_order_value": "50.00",
                    "is_public": True,
                },
                login="seller1@example.com",
            )
        ],
        summary="Create a discount code (seller)",
        request=DiscountInput,
        responses={201: DiscountOutput},
        description=(
            "A new code of the caller's shop (`shop` is ignored for sellers). Staff name the "
            "shop with `shop` (slug or id); staff without a shop of their own must, else 400 "
            "at `/shop`. A code created public and active is announced to the shop's followers."
        ),
    )
    def create(self, request: Request) -> Response:
        body = DiscountInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = request_user(request)
        fields = dict(body.validated_data)
        shop = selectors.seller_discount_shop(user=user, shop=fields.pop("shop", None))
        discount = services.discount_create(shop=shop, **fields)
        discount = selectors.seller_discount_get(user=user, discount_id=discount.pk)
        return Response(DiscountOutput(discount).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="seller_discounts_retrieve",
        summary="Get one of my shop's discount codes (seller)",
        responses=DiscountOutput,
        description=f"One code. {SELLER_SCOPE}",
    )
    def retrieve(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            user=request_user(request), discount_id=discount_id
        )
        return Response(DiscountOutput(discount).data)

    @extend_schema(
        operation_id="seller_discounts_update",
        summary="Change a discount code (seller)",
        request=DiscountInput(partial=True),
        responses=DiscountOutput,
        description=(
            f"Partial update; the shop never changes. {SELLER_SCOPE} An update that makes a "
            "code public and active for the first time announces it to the shop's followers."
        ),
    )
    def partial_update(self, request: Request, discount_id: uuid.UUID) -> Response:
        user = request_user(request)
        discount = selectors.seller_discount_get(user=user, discount_id=discount_id)
        body = DiscountInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        fields.pop("shop", None)  # a code never moves to another shop
        services.discount_update(discount=discount, **fields)
        discount = selectors.seller_discount_get(user=user, discount_id=discount_id)
        return Response(DiscountOutput(discount).data)

    @extend_schema(
        operation_id="seller_discounts_destroy",
        summary="Delete a discount code (seller)",
        responses={204: None},
        description=(
            f"Delete an unused code; a code that was ever redeemed is deactivated instead. "
            f"{SELLER_SCOPE}"
        ),
    )
    def destroy(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            user=request_user(request), discount_id=discount_id
        )
        services.discount_delete(discount=discount)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShopDiscountViewSet(viewsets.GenericViewSet):
    """A shop's public discount codes (registered under the shop's path)."""

    permission_classes = [AllowAny]  # guests too
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    @extend_schema(
        operation_id="shop_discounts_list",
        summary="List a shop's public discount codes",
        description=(
            "The shop's public codes that are active now, for storefront banners; a guest may "
            "call it."
        ),
        responses=PublicDiscountOutput(many=True),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def list(self, request: Request, shop: str) -> Response:
        queryset = selectors.shop_public_discount_list(
            shop=selectors.shop_get_active(shop), now=timezone.now()
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(PublicDiscountOutput(page, many=True).data)


class DiscountProductViewSet(viewsets.GenericViewSet):
    """The products a discount code applies to (registered under the code's path)."""

    permission_classes = [AllowAny]  # guests too
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), DiscountCheckThrottle()]

    @extend_schema(
        operation_id="discount_products_list",
        summary="List the products a discount code applies to",
        description=(
            "The published products of `shop` that the shop's active code applies to (all of them"
            " for `applies_to: all`). An unknown or inactive code is 404 `discount.not_found`, "
            "and so is a private code (`is_public: false`) except to the shop's seller and "
            "staff. Code checks are throttled (`discount_check`)."
        ),
        responses=DiscountProductOutput(many=True),
        parameters=[
            OpenApiParameter("shop", str, required=True, description="shop slug or id"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    def list(self, request: Request, code: str) -> Response:
        query = DiscountProductsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop = selectors.shop_get_active(query.validated_data["shop"])
        discount = selectors.discount_get_listed(shop=shop, code=code, user=request.user)
        page = self.paginate_queryset(selectors.discount_products(discount=discount))
        return self.get_paginated_response(DiscountProductOutput(page, many=True).data)
