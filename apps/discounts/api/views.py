import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import PageNumberPagination
from apps.discounts import selectors, services
from apps.discounts.api.serializers import (
    DiscountInput,
    DiscountOutput,
    DiscountProductOutput,
    DiscountProductsQuery,
    PublicDiscountOutput,
)
from apps.discounts.errors import DiscountNotFound
from apps.users.request_user import request_user


class HasShop(BasePermission):
    """The caller is signed in and owns a shop (seller tools act on the caller's own shop)."""

    message = "Only sellers may do this. Open a shop first."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "shop"))


class SellerDiscountListApi(APIView):
    permission_classes = [HasShop]
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    @extend_schema(
        operation_id="seller_discounts_list",
        responses=DiscountOutput(many=True),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.seller_discount_list(shop=request_user(request).shop), request, view=self
        )
        return paginator.get_paginated_response(DiscountOutput(page, many=True).data)

    @extend_schema(
        operation_id="seller_discounts_create",
        request=DiscountInput,
        responses={201: DiscountOutput},
    )
    def post(self, request: Request) -> Response:
        body = DiscountInput(data=request.data)
        body.is_valid(raise_exception=True)
        shop = request_user(request).shop
        discount = services.discount_create(shop=shop, **body.validated_data)
        discount = selectors.seller_discount_get(shop=shop, discount_id=discount.pk)
        return Response(DiscountOutput(discount).data, status=status.HTTP_201_CREATED)


class SellerDiscountDetailApi(APIView):
    permission_classes = [HasShop]

    @extend_schema(operation_id="seller_discounts_retrieve", responses=DiscountOutput)
    def get(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            shop=request_user(request).shop, discount_id=discount_id
        )
        return Response(DiscountOutput(discount).data)

    @extend_schema(
        operation_id="seller_discounts_update",
        request=DiscountInput(partial=True),
        responses=DiscountOutput,
    )
    def patch(self, request: Request, discount_id: uuid.UUID) -> Response:
        shop = request_user(request).shop
        discount = selectors.seller_discount_get(shop=shop, discount_id=discount_id)
        body = DiscountInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.discount_update(discount=discount, **body.validated_data)
        discount = selectors.seller_discount_get(shop=shop, discount_id=discount_id)
        return Response(DiscountOutput(discount).data)

    @extend_schema(operation_id="seller_discounts_destroy", responses={204: None})
    def delete(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            shop=request_user(request).shop, discount_id=discount_id
        )
        services.discount_delete(discount=discount)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShopDiscountListApi(APIView):
    permission_classes: list = []
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    @extend_schema(
        operation_id="shop_discounts_list",
        responses=PublicDiscountOutput(many=True),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request: Request, shop: str) -> Response:
        paginator = PageNumberPagination()
        queryset = selectors.shop_public_discount_list(
            shop=selectors.shop_get_active(shop), now=timezone.now()
        )
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(PublicDiscountOutput(page, many=True).data)


class DiscountProductListApi(APIView):
    permission_classes: list = []
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    @extend_schema(
        operation_id="discount_products_list",
        responses=DiscountProductOutput(many=True),
        parameters=[
            OpenApiParameter("shop", str, required=True, description="shop slug or id"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    def get(self, request: Request, code: str) -> Response:
        query = DiscountProductsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop = selectors.shop_get_active(query.validated_data["shop"])
        discount = selectors.discount_get_by_code(shop=shop, code=code)
        if not discount.is_active:
            raise DiscountNotFound(
                f"The shop has no active discount code {code}.", discount_code=code
            )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.discount_products(discount=discount), request, view=self
        )
        return paginator.get_paginated_response(DiscountProductOutput(page, many=True).data)
