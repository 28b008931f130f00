"""Thin HTTP layer of shops and follows: validate input, call one service or selector, serialize
the result."""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsAuthenticatedUser
from apps.shops import selectors, services
from apps.shops.api.serializers import ShopCreateInput, ShopOutput, ShopUpdateInput
from apps.shops.models import Shop
from apps.users.api.views import INVALID, NO_CONTENT, UNAUTHENTICATED, problems
from apps.users.request_user import request_user

SHOP_IDENT = OpenApiParameter(
    "ident", str, OpenApiParameter.PATH, description="The shop's slug or id."
)


class ShopViewSet(viewsets.GenericViewSet):
    """Shops: anyone lists and reads them; a signed-in user opens, changes and follows one."""

    permission_classes = [AllowAny]
    pagination_class = PageNumberPagination
    serializer_class = ShopOutput
    queryset = Shop.objects.none()  # for the schema; reads go through selectors
    lookup_url_kwarg = "ident"
    lookup_value_converter = "str"

    def get_permissions(self) -> Sequence[Any]:
        if self.action in ("create", "partial_update"):
            return [IsAuthenticatedUser()]
        return super().get_permissions()

    @extend_schema(
        tags=["shops"],
        operation_id="shops_list",
        summary="List shops",
        description=(
            "Active shops with product and follower counts and rating; `search` matches name or "
            "description."
        ),
        parameters=[
            OpenApiParameter("search", str, description="Matches name or description."),
        ],
        responses={200: ShopOutput(many=True)},
    )
    def list(self, request: Request) -> Response:
        shops = selectors.shop_list(search=request.query_params.get("search", "").strip())
        page = self.paginate_queryset(shops)
        return self.get_paginated_response(ShopOutput(page, many=True).data)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_create",
        summary="Open a shop",
        description=(
            "The caller becomes the seller of a new shop (one shop per user: 409 "
            "`shop.already_exists` otherwise)."
        ),
        request=ShopCreateInput,
        responses={
            201: ShopOutput,
            **problems(INVALID, UNAUTHENTICATED, (409, "shop.already_exists")),
        },
    )
    def create(self, request: Request) -> Response:
        body = ShopCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        shop = services.shop_create(owner=request_user(request), **body.validated_data)
        return Response(ShopOutput(shop).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_retrieve",
        summary="Get a shop",
        description="An active shop by slug or id.",
        parameters=[SHOP_IDENT],
        responses={200: ShopOutput, **problems((404, "shop.not_found"))},
    )
    def retrieve(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        return Response(ShopOutput(shop).data)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_update",
        summary="Change a shop (its seller, staff)",
        description=(
            "Partial update of the shop's name, description, shipping fee, free-shipping "
            "threshold and logo (`logo_id` of an uploaded image)."
        ),
        parameters=[SHOP_IDENT],
        request=ShopUpdateInput,
        responses={
            200: ShopOutput,
            **problems(INVALID, UNAUTHENTICATED, (403, "shop.not_owner"), (404, "shop.not_found")),
        },
    )
    def partial_update(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        body = ShopUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        shop = services.shop_update(
            shop=shop, actor=request_user(request), data=body.validated_data
        )
        return Response(ShopOutput(shop).data)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_follow",
        summary="Follow a shop",
        description=(
            "Followers are notified of the shop's new products and public discount codes. "
            "Following twice changes nothing."
        ),
        parameters=[SHOP_IDENT],
        request=None,
        responses={
            204: NO_CONTENT,
            **problems(UNAUTHENTICATED, (404, "shop.not_found"), (422, "shop.self_follow")),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticatedUser])
    def follow(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        services.shop_follow(shop=shop, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_unfollow",
        summary="Unfollow a shop",
        description="Stop following a shop; unfollowing a shop not followed changes nothing.",
        parameters=[SHOP_IDENT],
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED, (404, "shop.not_found"))},
    )
    @follow.mapping.delete
    def unfollow(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        services.shop_unfollow(shop=shop, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
