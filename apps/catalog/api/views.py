"""Thin catalog views: validate input, call one selector or service, serialize the result."""

import hashlib
from typing import Any, cast

import orjson
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import selectors, services
from apps.catalog.api.fast import FastPathThrottleMixin, cached_response
from apps.catalog.api.serializers import (
    CategoryNodeOutput,
    ProductCreateInput,
    ProductDetailOutput,
    ProductListQuery,
    ProductSummaryOutput,
    ProductTypeOutput,
    ProductUpdateInput,
    SellerProductListQuery,
    VariantCreateInput,
    VariantOutput,
    VariantUpdateInput,
)
from apps.catalog.cache import (
    categories_cached,
    product_detail_cached,
    product_detail_lookup,
    product_list_page_cached,
    product_list_page_lookup,
)
from apps.catalog.errors import InvalidProduct, ProductNotFound
from apps.catalog.models import Product
from apps.catalog.product_types import REGISTRY, attribute_by_name, get_product_type
from apps.core.errors import InvalidInput
from apps.core.openapi import problem_responses
from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsAuthenticatedUser, IsSeller
from apps.core.renderers import OrjsonRenderer
from apps.core.slugs import id_first, id_or_slug
from apps.users.request_user import request_user

# Conflicts a seller's write can meet (documented so clients and the schema fuzz expect them).
PRODUCT_WRITE = {409: ["catalog.product_archived"]}
VARIANT_WRITE = {
    409: [
        "catalog.sku_taken",
        "catalog.duplicate_variant",
        "catalog.last_variant",
        "catalog.product_archived",
    ]
}

ATTR_PREFIX = "attr."


class ProductTypeListApi(APIView):
    permission_classes = (AllowAny,)

    @extend_schema(
        responses=ProductTypeOutput(many=True),
        summary="Product types with their attribute JSON Schema and variant options",
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "type": product_type.type,
                    "name": product_type.name,
                    "attributes_schema": product_type.attributes_schema(),
                    "variant_options": product_type.variant_options_schema(),
                }
                for product_type in REGISTRY.values()
            ]
        )


class CategoryTreeApi(APIView):
    permission_classes = (AllowAny,)

    @extend_schema(responses=CategoryNodeOutput(many=True), summary="The category tree")
    def get(self, request: Request) -> Response:
        return Response(categories_cached(selectors.category_tree))


def _list_filters(request: Request) -> selectors.ProductFilters:
    params = request.query_params
    # A plain dict: DRF reads a missing boolean in a QueryDict as False, not as absent.
    query = ProductListQuery(
        data={k: v for k, v in params.items() if not k.startswith(ATTR_PREFIX)}
    )
    query.is_valid(raise_exception=True)
    data = query.validated_data
    if data.get("type"):
        get_product_type(data["type"])
    attributes: dict[str, Any] = {}
    errors = []
    for key, raw in params.items():
        if not key.startswith(ATTR_PREFIX):
            continue
        name = key[len(ATTR_PREFIX) :]
        declaration = (
            REGISTRY[data["type"]].attribute(name) if data.get("type") else attribute_by_name(name)
        )
        if declaration is None:
            errors.append(
                {"pointer": f"/{key}", "code": "unknown_attribute", "detail": "No such attribute."}
            )
            continue
        try:
            # A parsed query string has no empty value lists: items() gives each key's last str.
            attributes[name] = declaration.coerce_query_value(cast(str, raw))
        except ValueError:
            errors.append(
                {
                    "pointer": f"/{key}",
                    "code": "invalid_type",
                    "detail": f"Must be a {declaration.kind}.",
                }
            )
    if errors:
        raise InvalidInput("Invalid attribute filter.", errors=errors)
    return selectors.ProductFilters(
        search=data.get("search", ""),
        type=data.get("type", ""),
        shop=data.get("shop", ""),
        category=data.get("category", ""),
        min_price=data.get("min_price"),
        max_price=data.get("max_price"),
        in_stock=data.get("in_stock"),
        attributes=attributes,
        ordering=data.get("ordering", ""),
    )


def _entry(body: bytes) -> dict[str, Any]:
    return {"body": body, "etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"'}


def public_list_lookup(request: HttpRequest) -> dict[str, Any] | None:
    """The cached page for this URL, if any (the fast path's lookup: `apps.catalog.api.fast`)."""
    return product_list_page_lookup(request.build_absolute_uri())


class ProductListCreateApi(FastPathThrottleMixin, generics.ListAPIView):
    """The public list is the same for every caller (published products only), so each page is
    cached as rendered bytes keyed by its absolute URL (its next/previous links are made from it)
    under the catalog's list version, which every product, variant, stock, image, rating and
    category write bumps."""

    serializer_class = ProductSummaryOutput
    pagination_class = PageNumberPagination
    filter_backends = ()

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsAuthenticatedUser(), IsSeller()]
        return [AllowAny()]

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(filters=_list_filters(self.request))

    # Not annotated: DRF's stub is generic over the row type, this override is for products.
    def paginate_queryset(self, queryset):
        return selectors.products_mark_in_stock(list(super().paginate_queryset(queryset) or []))

    @extend_schema(
        parameters=[
            ProductListQuery,
            OpenApiParameter(
                "attr.<name>",
                OpenApiTypes.STR,
                description="Equality on a product attribute, e.g. attr.color=black (repeatable).",
            ),
        ],
        responses={
            200: ProductSummaryOutput(many=True),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
        },
        summary="Published products: filters, search and ordering",
    )
    # The ignore: DRF takes any HttpResponse from a handler (finalize_response); the stubs type
    # ListAPIView.get as returning its Response. This one answers with cached bytes.
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        entry = product_list_page_cached(request.build_absolute_uri(), self._render_page)
        return cached_response(request, entry, public=True)

    def _render_page(self) -> dict[str, Any]:
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_paginated_response(self.get_serializer(page, many=True).data).data
        return _entry(OrjsonRenderer().render(data))

    @extend_schema(
        request=ProductCreateInput,
        responses={201: ProductDetailOutput},
        summary="Create a draft product (seller)",
    )
    def post(self, request: Request) -> Response:
        body = ProductCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        shop = _acting_shop(request.user, data.pop("shop", None))
        product = services.product_create(actor=request_user(request), shop=shop, **data)
        return Response(ProductDetailOutput(product).data, status=status.HTTP_201_CREATED)


def _acting_shop(user: Any, requested: str | None) -> Any:
    """A seller acts for their shop (a `shop` in the body is ignored); staff name one."""
    from apps.users.models import Shop

    if user.is_staff and requested:
        shop = Shop.objects.filter(id_or_slug(requested)).order_by(*id_first(requested)).first()
        if shop is None:
            raise InvalidProduct(
                "Unknown shop.",
                errors=[{"pointer": "/shop", "code": "does_not_exist", "detail": "No such shop."}],
            )
        return shop
    shop = Shop.objects.filter(owner_id=user.pk).first()
    if shop is None:
        raise InvalidProduct(
            "Staff without a shop must name the shop.",
            errors=[{"pointer": "/shop", "code": "required", "detail": "Name the shop."}],
        )
    return shop


def _detail_entry(product_id: Any) -> dict[str, Any] | None:
    product = (
        selectors.product_detail_queryset(active_variants_only=True).filter(pk=product_id).first()
    )
    if product is None:
        return None
    return {
        **_entry(orjson.dumps(ProductDetailOutput(product).data, default=str)),
        "status": product.status,
        "shop_active": product.shop.status == "active",
        "owner_id": str(product.shop.owner_id),
    }


def _public(entry: dict[str, Any]) -> bool:
    return entry["status"] == "published" and entry["shop_active"]


def public_detail_lookup(request: HttpRequest, ident: str) -> dict[str, Any] | None:
    """The cached detail of a public product named by id, if any (the fast path's lookup)."""
    product_id = selectors.as_uuid(ident)
    if product_id is None:
        return None
    entry = product_detail_lookup(product_id)
    return entry if entry is not None and _public(entry) else None


class ProductDetailApi(FastPathThrottleMixin, APIView):
    def get_permissions(self) -> list:
        if self.request.method in ("PATCH", "DELETE"):
            return [IsAuthenticatedUser(), IsSeller()]
        return [AllowAny()]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "shop", OpenApiTypes.STR, description="Shop id or slug, to pick among equal slugs"
            )
        ],
        responses={
            200: ProductDetailOutput,
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
        },
        summary="A product by id or slug (drafts only to their seller and staff)",
    )
    def get(self, request: Request, ident: str) -> HttpResponse:
        shop = request.query_params.get("shop", "")
        product_id = selectors.product_resolve_id(ident=ident, user=request.user, shop=shop)
        entry = self._visible_entry(request, product_id)
        if entry is None and selectors.as_uuid(ident) is not None:
            # No product the caller may see has this id: it may be a slug that looks like one
            # (made before slugs could not; apps.core.slugs). Only a miss pays for this query.
            product_id = selectors.product_resolve_slug(ident=ident, user=request.user, shop=shop)
            entry = self._visible_entry(request, product_id)
        if entry is None:
            raise ProductNotFound(f"No product {ident!r}.")
        return cached_response(request, entry, public=_public(entry))

    @staticmethod
    def _visible_entry(request: Request, product_id: Any) -> dict[str, Any] | None:
        entry = product_detail_cached(product_id, lambda: _detail_entry(product_id))
        if entry is None or not selectors.product_visible_to(
            product_status=entry["status"],
            shop_active=entry["shop_active"],
            owner_id=entry["owner_id"],
            user=request.user,
        ):
            return None
        return entry

    @extend_schema(
        request=ProductUpdateInput,
        responses={200: ProductDetailOutput, **problem_responses(403, codes=PRODUCT_WRITE)},
        summary="Partial update; attributes merge key by key, null removes",
    )
    def patch(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        body = ProductUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        product = services.product_update(
            actor=request_user(request), product=product, data=body.validated_data
        )
        return Response(ProductDetailOutput(product).data)

    @extend_schema(
        responses={204: None, **problem_responses(403)},
        summary="Archive: hidden, kept for order history",
    )
    def delete(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        services.product_archive(actor=request_user(request), product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _SellerApi(APIView):
    permission_classes = (IsAuthenticatedUser, IsSeller)


class ProductPublishApi(_SellerApi):
    @extend_schema(
        request=None,
        responses={
            200: ProductDetailOutput,
            **problem_responses(
                403, codes={409: ["catalog.not_publishable", "catalog.product_archived"]}
            ),
        },
        summary="Publish",
    )
    def post(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        product = services.product_publish(actor=request_user(request), product=product)
        return Response(ProductDetailOutput(product).data)


class ProductUnpublishApi(_SellerApi):
    @extend_schema(
        request=None,
        responses={
            200: ProductDetailOutput,
            **problem_responses(403, codes={409: ["catalog.product_archived"]}),
        },
        summary="Back to draft",
    )
    def post(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        product = services.product_unpublish(actor=request_user(request), product=product)
        return Response(ProductDetailOutput(product).data)


class VariantCreateApi(_SellerApi):
    @extend_schema(
        request=VariantCreateInput,
        responses={201: VariantOutput, **problem_responses(403, codes=VARIANT_WRITE)},
        summary="Add a variant",
    )
    def post(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        body = VariantCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        variant = services.variant_create(
            actor=request_user(request), product=product, **body.validated_data
        )
        return Response(VariantOutput(variant).data, status=status.HTTP_201_CREATED)


class VariantDetailApi(_SellerApi):
    @extend_schema(
        request=VariantUpdateInput,
        responses={200: VariantOutput, **problem_responses(403, codes=VARIANT_WRITE)},
        summary="Change a variant",
    )
    def patch(self, request: Request, ident: str, variant_id: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        variant = selectors.variant_get_for_write(product=product, variant_id=variant_id)
        body = VariantUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        variant = services.variant_update(
            actor=request_user(request), variant=variant, data=body.validated_data
        )
        return Response(VariantOutput(variant).data)

    @extend_schema(
        responses={
            204: None,
            **problem_responses(
                403, codes={409: ["catalog.last_variant", "catalog.variant_in_use"]}
            ),
        },
        summary="Delete a variant (not the last one)",
    )
    def delete(self, request: Request, ident: str, variant_id: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        variant = selectors.variant_get_for_write(product=product, variant_id=variant_id)
        services.variant_delete(actor=request_user(request), variant=variant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SellerProductListApi(generics.ListAPIView):
    permission_classes = (IsAuthenticatedUser, IsSeller)
    serializer_class = ProductSummaryOutput
    pagination_class = PageNumberPagination
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Product]:
        query = SellerProductListQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.seller_product_list(actor=self.request.user, **query.validated_data)

    # Not annotated: DRF's stub is generic over the row type, this override is for products.
    def paginate_queryset(self, queryset):
        return selectors.products_mark_in_stock(list(super().paginate_queryset(queryset) or []))

    @extend_schema(parameters=[SellerProductListQuery], summary="The caller's shop's products")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
