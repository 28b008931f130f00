import uuid

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsSeller
from apps.discounts import selectors, services
from apps.discounts.api.serializers import (
    DiscountInput,
    DiscountOutput,
    DiscountProductOutput,
    DiscountProductsQuery,
    PublicDiscountOutput,
    SellerDiscountListQuery,
)
from apps.discounts.errors import DiscountNotFound
from apps.users.request_user import request_user

SELLER_SCOPE = (
    "Sellers act on their own shop's codes (another shop's code is 404 `discount.not_found`); "
    "staff on every shop's."
)


class SellerDiscountListApi(APIView):
    permission_classes = [IsSeller]
    pagination_class = PageNumberPagination  # also tells the schema the list is paged

    @extend_schema(
        operation_id="seller_discounts_list",
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
    def get(self, request: Request) -> Response:
        query = SellerDiscountListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = PageNumberPagination()
        queryset = selectors.seller_discount_list(
            user=request_user(request), shop=query.validated_data.get("shop")
        )
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(DiscountOutput(page, many=True).data)

    @extend_schema(
        operation_id="seller_discounts_create",
        request=DiscountInput,
        responses={201: DiscountOutput},
        description=(
            "A new code of the caller's shop (`shop` is ignored for sellers). Staff name the "
            "shop with `shop` (slug or id); staff without a shop of their own must, else 400 "
            "at `/shop`. A code created public and active is announced to the shop's followers."
        ),
    )
    def post(self, request: Request) -> Response:
        body = DiscountInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = request_user(request)
        fields = dict(body.validated_data)
        shop = selectors.seller_discount_shop(user=user, shop=fields.pop("shop", None))
        discount = services.discount_create(shop=shop, **fields)
        discount = selectors.seller_discount_get(user=user, discount_id=discount.pk)
        return Response(DiscountOutput(discount).data, status=status.HTTP_201_CREATED)


class SellerDiscountDetailApi(APIView):
    permission_classes = [IsSeller]

    @extend_schema(
        operation_id="seller_discounts_retrieve",
        responses=DiscountOutput,
        description=f"One code. {SELLER_SCOPE}",
    )
    def get(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            user=request_user(request), discount_id=discount_id
        )
        return Response(DiscountOutput(discount).data)

    @extend_schema(
        operation_id="seller_discounts_update",
        request=DiscountInput(partial=True),
        responses=DiscountOutput,
        description=(
            f"Partial update; the shop never changes. {SELLER_SCOPE} An update that makes a "
            "code public and active for the first time announces it to the shop's followers."
        ),
    )
    def patch(self, request: Request, discount_id: uuid.UUID) -> Response:
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
        responses={204: None},
        description=(
            f"Delete an unused code; a code that was ever redeemed is deactivated instead. "
            f"{SELLER_SCOPE}"
        ),
    )
    def delete(self, request: Request, discount_id: uuid.UUID) -> Response:
        discount = selectors.seller_discount_get(
            user=request_user(request), discount_id=discount_id
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
