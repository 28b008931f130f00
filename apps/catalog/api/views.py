"""Thin catalog views: validate input, call one selector or service, serialize the result."""

import hashlib
from typing import Any, cast
from urllib.parse import urlencode

import orjson
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from apps.catalog import selectors, services
from apps.catalog.api.http_cache import cached_response, public_cache_control
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
    product_list_page_cached,
)
from apps.catalog.errors import InvalidProduct, ProductNotFound
from apps.catalog.models import Product
from apps.catalog.product_types import REGISTRY, attribute_by_name, get_product_type
from apps.core.errors import InvalidInput, field_error
from apps.core.openapi import demo_example, problem_responses
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

# Attribute filters: `attr=<name>:<value>` (repeatable), or the older `attr.<name>=<value>`.
ATTR_PARAMETER = "attr"
ATTR_PREFIX = "attr."
MAX_ATTR_FILTERS = 20


class ProductTypeViewSet(viewsets.GenericViewSet):
    """The product type registry (code, not rows): one unpaged list."""

    permission_classes = (AllowAny,)
    pagination_class = None

    @extend_schema(
        responses=ProductTypeOutput(many=True),
        summary="Product types with their attribute JSON Schema and variant options",
        description=(
            "Every product type (`electronics`, `clothing`, `furniture`, `motorbike`) with the "
            "JSON Schema of its `attributes` and the options its variants may use. A product's "
            "`attributes` must validate against its type's schema."
        ),
    )
    def list(self, request: Request) -> Response:
        return Response(
            [
                {
                    "type": product_type.type,
                    "name": product_type.name,
                    "attributes_schema": product_type.attributes_schema(),
                    "variant_options": product_type.variant_options_schema(),
                }
                for product_type in REGISTRY.values()
            ],
            headers={"Cache-Control": public_cache_control()},
        )


class CategoryViewSet(viewsets.GenericViewSet):
    """The category tree: one unpaged list of roots with their children nested."""

    permission_classes = (AllowAny,)
    pagination_class = None

    @extend_schema(
        responses=CategoryNodeOutput(many=True),
        summary="The category tree",
        description=(
            "Every category as a tree (`children` nested). `GET /products?category=<slug or id>` "
            "includes the descendants."
        ),
    )
    def list(self, request: Request) -> Response:
        return Response(
            categories_cached(selectors.category_tree),
            headers={"Cache-Control": public_cache_control()},
        )


def _attribute_filters(params: Any) -> list[tuple[str, str, str]]:
    """(pointer, name, raw value) of each attribute filter, in either spelling: `attr=name:value`
    (repeatable; what generated clients can send) or `attr.<name>=value`."""
    filters = []
    errors = []
    values = params.getlist(ATTR_PARAMETER)
    if len(values) > MAX_ATTR_FILTERS:
        errors.append(
            field_error(
                f"/{ATTR_PARAMETER}", "max_length", f"At most {MAX_ATTR_FILTERS} attribute filters."
            )
        )
        values = []
    for index, value in enumerate(values):
        name, colon, raw = value.partition(":")
        if not colon or not name:
            errors.append(
                field_error(
                    f"/{ATTR_PARAMETER}/{index}",
                    "invalid",
                    "Use attr=<name>:<value>, e.g. attr=color:black.",
                )
            )
            continue
        filters.append((f"/{ATTR_PARAMETER}/{index}", name, raw))
    for key, raw in params.items():
        if key.startswith(ATTR_PREFIX):
            # A parsed query string has no empty value lists: items() gives each key's last str.
            filters.append((f"/{key}", key[len(ATTR_PREFIX) :], cast(str, raw)))
    if errors:
        raise InvalidInput("Invalid attribute filter.", errors=errors)
    return filters


def _list_filters(request: Request) -> selectors.ProductFilters:
    params = request.query_params
    # A plain dict: DRF reads a missing boolean in a QueryDict as False, not as absent.
    query = ProductListQuery(
        data={
            k: v for k, v in params.items() if k != ATTR_PARAMETER and not k.startswith(ATTR_PREFIX)
        }
    )
    query.is_valid(raise_exception=True)
    data = query.validated_data
    if data.get("type"):
        get_product_type(data["type"])
    attributes: dict[str, Any] = {}
    errors = []
    for pointer, name, raw in _attribute_filters(params):
        declaration = (
            REGISTRY[data["type"]].attribute(name) if data.get("type") else attribute_by_name(name)
        )
        if declaration is None:
            errors.append(field_error(pointer, "unknown_attribute", "No such attribute."))
            continue
        try:
            attributes[name] = declaration.coerce_query_value(raw)
        except ValueError:
            errors.append(field_error(pointer, "invalid_type", f"Must be a {declaration.kind}."))
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


# The query parameters that change the public list; any other (`?utm_source=`, `?x=<random>`) is
# ignored, so it must not make a cache entry of its own (one per made-up value filled the cache).
LIST_PARAMETERS = frozenset(ProductListQuery().fields) | {"page", "page_size"}


def public_list_url(request: HttpRequest | Request) -> str:
    """The list URL with only the parameters that change the answer, sorted by name: the page's
    cache key, and the base of its next and previous links, so that every URL with the same
    answer shares one cached page. A repeated parameter counts once with the value the view
    reads (the last), except the repeatable `attr`, whose values all count, in their order."""
    params: list[tuple[str, str]] = []
    for key in sorted(request.GET):
        if key == ATTR_PARAMETER:
            params += [(key, value) for value in request.GET.getlist(key)]
        elif key in LIST_PARAMETERS or key.startswith(ATTR_PREFIX):
            params.append((key, request.GET[key]))
    path = request.build_absolute_uri(request.path)
    return f"{path}?{urlencode(params)}" if params else path


class ProductListPagination(PageNumberPagination):
    """Links made from `public_list_url` (DRF's from the full request URL): a cached page's links
    carry no parameter that is not part of its key."""

    def get_next_link(self) -> str | None:
        page = self.page
        return self._page_link(page.next_page_number()) if page and page.has_next() else None

    def get_previous_link(self) -> str | None:
        page = self.page
        return (
            self._page_link(page.previous_page_number()) if page and page.has_previous() else None
        )

    def _page_link(self, number: int) -> str:
        url = public_list_url(cast(Request, self.request))
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)


def _acting_shop(user: Any, requested: str | None) -> Any:
    """A seller acts for their shop (a `shop` in the body is ignored); staff name one."""
    from apps.shops.models import Shop

    if user.is_staff and requested:
        shop = Shop.objects.filter(id_or_slug(requested)).order_by(*id_first(requested)).first()
        if shop is None:
            raise InvalidProduct(
                "Unknown shop.",
                errors=[field_error("/shop", "does_not_exist", "No such shop.")],
            )
        return shop
    shop = Shop.objects.filter(owner_id=user.pk).first()
    if shop is None:
        raise InvalidProduct(
            "Staff without a shop must name the shop.",
            errors=[field_error("/shop", "required", "Name the shop.")],
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


# The product actions of a seller (staff: any shop); reads are public.
SELLER_ACTIONS = frozenset({"create", "partial_update", "destroy", "publish", "unpublish"})


class ProductViewSet(viewsets.GenericViewSet):
    """Products by id or slug (`ident`). The public list is the same for every caller (published
    products only), so each page is cached as rendered bytes keyed by its absolute URL (its
    next/previous links are made from it) under the catalog's list version, which every
    product, variant, stock, image, rating and category write bumps; a product's detail is
    cached under its own version."""

    serializer_class = ProductSummaryOutput
    pagination_class = ProductListPagination
    filter_backends = ()
    lookup_field = "ident"
    lookup_value_converter = "str"

    def get_permissions(self) -> list[BasePermission]:
        if self.action in SELLER_ACTIONS:
            return [IsAuthenticatedUser(), IsSeller()]
        return [AllowAny()]

    # Not annotated: DRF's stub is generic over the row type, this override is for products.
    def paginate_queryset(self, queryset):
        return selectors.products_mark_in_stock(list(super().paginate_queryset(queryset) or []))

    @extend_schema(
        parameters=[
            ProductListQuery,
            OpenApiParameter(
                ATTR_PARAMETER,
                OpenApiTypes.STR,
                many=True,
                explode=True,
                style="form",
                description=(
                    "Equality on a product attribute as `<name>:<value>`, e.g. "
                    "`attr=color:black&attr=brand:Oakly` (repeatable, all must hold; at most "
                    f"{MAX_ATTR_FILTERS}). The value is read as the attribute's type (number, "
                    "boolean or text). `attr.<name>=<value>` (e.g. `attr.color=black`) is "
                    "the same filter in another spelling."
                ),
            ),
        ],
        responses={
            200: ProductSummaryOutput(many=True),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
        },
        summary="Published products: filters, search and ordering",
        description=(
            "Published products of active shops, paginated (`page`, `page_size` up to 100). "
            "Filters combine: `search` (full text, with `ordering=relevance`), `type`, `shop`, "
            "`category` (with its descendants), `min_price`, `max_price`, `in_stock` and "
            "attribute equality (`attr=name:value`). Responses carry an `ETag`; `If-None-Match` "
            "gives 304."
        ),
    )
    # An HttpResponse, not a Response: DRF takes any from a handler (finalize_response). This one
    # answers with cached bytes.
    def list(self, request: Request) -> HttpResponse:
        entry = product_list_page_cached(public_list_url(request), self._render_page)
        return cached_response(request, entry, public=True)

    def _render_page(self) -> dict[str, Any]:
        products = selectors.product_list(filters=_list_filters(self.request))
        page = self.paginate_queryset(products)
        data = self.get_paginated_response(self.get_serializer(page, many=True).data).data
        return _entry(OrjsonRenderer().render(data))

    @extend_schema(
        request=ProductCreateInput,
        responses={201: ProductDetailOutput},
        summary="Create a draft product (seller)",
        examples=[
            demo_example(
                "Earbuds with one default variant",
                {
                    "type": "electronics",
                    "name": "Compact Bluetooth Earbuds",
                    "description": "Wireless earbuds with a pocket charging case.",
                    "category": "audio",
                    "price": "59.00",
                    "stock": 25,
                    "attributes": {"manufacturer": "Northwind", "warranty_months": 12},
                },
                login="seller1@example.com",
            )
        ],
        description=(
            "A new product of the caller's shop in `draft` status (publish it with `POST "
            "/products/{ident}/publish`). `attributes` must match the type's schema (400 with "
            "pointers). Without `variants` the product gets one default variant with `price` and "
            "`stock`; with `variants` each has its own options, price and stock. Staff name the "
            "shop with `shop`."
        ),
    )
    def create(self, request: Request) -> Response:
        body = ProductCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        shop = _acting_shop(request.user, data.pop("shop", None))
        product = services.product_create(actor=request_user(request), shop=shop, **data)
        return Response(ProductDetailOutput(product).data, status=status.HTTP_201_CREATED)

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
        description=(
            "The product with its variants (price, options, availability), images, category, shop"
            " and rating histogram. Drafts and archived products are 404 except to their seller "
            "and staff. Responses carry an `ETag`; `If-None-Match` gives 304."
        ),
    )
    def retrieve(self, request: Request, ident: str) -> HttpResponse:
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
        description=(
            "Change one of the caller's products. `attributes` merge key by key into the current "
            "ones; a `null` value removes that key. An archived product is 409 "
            "`catalog.product_archived`."
        ),
    )
    def partial_update(self, request: Request, ident: str) -> Response:
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
        description=(
            "Archive one of the caller's products: it leaves the catalog and can no longer "
            "change; orders keep their lines."
        ),
    )
    def destroy(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        services.product_archive(actor=request_user(request), product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            200: ProductDetailOutput,
            **problem_responses(
                403, codes={409: ["catalog.not_publishable", "catalog.product_archived"]}
            ),
        },
        summary="Publish",
        description=(
            "Make a draft of the caller's shop visible in the catalog (it needs an active "
            "variant). Publishing a published product changes nothing."
        ),
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        product = services.product_publish(actor=request_user(request), product=product)
        return Response(ProductDetailOutput(product).data)

    @extend_schema(
        request=None,
        responses={
            200: ProductDetailOutput,
            **problem_responses(403, codes={409: ["catalog.product_archived"]}),
        },
        summary="Back to draft",
        description=(
            "Take a published product of the caller's shop out of the catalog (status `draft`)."
        ),
    )
    @action(detail=True, methods=["post"])
    def unpublish(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        product = services.product_unpublish(actor=request_user(request), product=product)
        return Response(ProductDetailOutput(product).data)


class ProductVariantViewSet(viewsets.GenericViewSet):
    """The variants of one of the caller's products (registered under the product's path)."""

    permission_classes = (IsAuthenticatedUser, IsSeller)
    serializer_class = VariantCreateInput  # what OPTIONS describes
    lookup_field = "variant_id"
    lookup_value_converter = "str"

    @extend_schema(
        request=VariantCreateInput,
        responses={201: VariantOutput, **problem_responses(403, codes=VARIANT_WRITE)},
        summary="Add a variant",
        description=(
            "A new variant (`sku`, `options`, `price`) of one of the caller's products; its "
            "options must be the type's variant options and differ from every other variant's."
        ),
    )
    def create(self, request: Request, ident: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        body = VariantCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        variant = services.variant_create(
            actor=request_user(request), product=product, **body.validated_data
        )
        return Response(VariantOutput(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=VariantUpdateInput,
        responses={200: VariantOutput, **problem_responses(403, codes=VARIANT_WRITE)},
        summary="Change a variant",
        description=("Partial update of a variant of one of the caller's products."),
    )
    def partial_update(self, request: Request, ident: str, variant_id: str) -> Response:
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
        description=(
            "Delete a variant of one of the caller's products; a product keeps at least one (409 "
            "`catalog.last_variant`)."
        ),
    )
    def destroy(self, request: Request, ident: str, variant_id: str) -> Response:
        product = selectors.product_get_for_write(actor=request.user, ident=ident)
        variant = selectors.variant_get_for_write(product=product, variant_id=variant_id)
        services.variant_delete(actor=request_user(request), variant=variant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SellerProductViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's shop's products, whatever their status (staff: every shop's)."""

    permission_classes = (IsAuthenticatedUser, IsSeller)
    serializer_class = ProductSummaryOutput
    pagination_class = ProductListPagination
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Product]:
        query = SellerProductListQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.seller_product_list(actor=self.request.user, **query.validated_data)

    # Not annotated: DRF's stub is generic over the row type, this override is for products.
    def paginate_queryset(self, queryset):
        return selectors.products_mark_in_stock(list(super().paginate_queryset(queryset) or []))

    @extend_schema(
        parameters=[SellerProductListQuery],
        summary="The caller's shop's products",
        description=(
            "Every product of the caller's shop, drafts and archived ones too, newest first "
            "(`search` orders by relevance); `status` filters. Staff see every shop's products."
        ),
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
