"""Catalog reads. Every queryset is scoped to what the caller may see and already joins or
prefetches what the serializers touch, so a page costs the same number of queries whatever it
holds."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from apps.catalog.errors import CategoryNotFound, ProductNotFound, VariantNotFound
from apps.catalog.models import Category, Product, ProductImage, ProductVariant
from apps.catalog.search import full_text_available, search_apply
from apps.core.slugs import as_uuid, id_first, id_or_slug

# What a list item (ProductSummaryOutput) shows: only these columns are loaded.
LIST_FIELDS = (
    "id",
    "slug",
    "type",
    "name",
    "status",
    "price",
    "rating_avg",
    "rating_count",
    "published_at",
    "created_at",
    "shop__id",
    "shop__slug",
    "shop__name",
    "category__id",
    "category__slug",
    "category__name",
)
# Lists read images from this attribute (a plain list: no per-product queryset to build).
LIST_IMAGES = "listed_images"

ORDERINGS: dict[str, tuple[str, ...]] = {
    "price": ("price", "-created_at", "id"),
    "-price": ("-price", "-created_at", "id"),
    "-created_at": ("-created_at", "id"),
    "-rating": ("-rating_avg", "-rating_count", "-created_at", "id"),
    "relevance": ("-relevance", "-created_at", "id"),
}


def _is_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


def in_stock_expression() -> Exists:
    """Some active variant has stock on hand beyond what is reserved (inventory.StockItem via the
    reverse one-to-one `variant.stock`)."""
    return Exists(
        ProductVariant.objects.filter(
            product=OuterRef("pk"), is_active=True, stock__on_hand__gt=F("stock__reserved")
        )
    )


def _images(to_attr: str | None = None) -> Prefetch:
    return Prefetch(
        "images", queryset=ProductImage.objects.select_related("asset"), to_attr=to_attr
    )


def _summaries(products: QuerySet[Product]) -> QuerySet[Product]:
    """Only what list items show, images prefetched into LIST_IMAGES."""
    return products.only(*LIST_FIELDS).prefetch_related(_images(LIST_IMAGES))


def _variants(*, active_only: bool) -> Prefetch:
    variants = ProductVariant.objects.select_related("stock")
    if active_only:
        variants = variants.filter(is_active=True)
    return Prefetch("variants", queryset=variants)


# --- public list ----------


@dataclass
class ProductFilters:
    search: str = ""
    type: str = ""
    shop: str = ""
    category: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    # attribute name → JSON value it must equal (already coerced to the declared type)
    attributes: dict[str, Any] = field(default_factory=dict)
    ordering: str = ""


def product_public_queryset() -> QuerySet[Product]:
    return Product.objects.filter(
        status=Product.Status.PUBLISHED, shop__status="active"
    ).select_related("shop", "category")


def product_list(*, filters: ProductFilters) -> QuerySet[Product]:
    """Published products of active shops matching `filters`, ordered (CategoryNotFound if the
    category filter names no category)."""
    products = product_public_queryset()
    if filters.type:
        products = products.filter(type=filters.type)
    if filters.shop:
        products = products.filter(id_or_slug(filters.shop, prefix="shop__"))
    if filters.category:
        category = (
            Category.objects.filter(id_or_slug(filters.category))
            .order_by(*id_first(filters.category))
            .only("path")
            .first()
        )
        if category is None:
            raise CategoryNotFound(f"No category {filters.category!r}.")
        # Materialised path: the category and all its descendants share its path prefix.
        products = products.filter(category__path__startswith=category.path)
    if filters.min_price is not None:
        products = products.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        products = products.filter(price__lte=filters.max_price)
    if filters.in_stock is not None:
        in_stock = in_stock_expression()
        products = products.filter(in_stock if filters.in_stock else ~in_stock)
    if filters.attributes:
        if full_text_available():
            # jsonb @> containment, served by the GIN jsonb_path_ops index (migration 0003).
            products = products.filter(attributes__contains=filters.attributes)
        else:
            # SQLite has no containment: one JSON key lookup per attribute (names are checked
            # against the type registry before they get here).
            for name, value in filters.attributes.items():
                products = products.filter(**{f"attributes__{name}": value})
    ordering = filters.ordering
    if filters.search:
        products = search_apply(products, filters.search)
        ordering = ordering or "relevance"
    elif ordering == "relevance" or not ordering:
        ordering = "-created_at"  # relevance only means something with a search
    # in_stock is not annotated here: PostgreSQL evaluates such an EXISTS as one hashed subplan
    # over every variant in the table; `products_mark_in_stock` asks only about the page.
    return _summaries(products).order_by(*ORDERINGS[ordering])


def products_mark_in_stock(products: list[Product]) -> list[Product]:
    """Set `in_stock` on a page of products with one indexed query."""
    stocked = set(
        ProductVariant.objects.filter(
            product_id__in=[p.pk for p in products],
            is_active=True,
            stock__on_hand__gt=F("stock__reserved"),
        )
        .order_by()  # not the model's ordering: DISTINCT would include its columns
        .values_list("product_id", flat=True)
        .distinct()
    )
    for product in products:
        product.in_stock = product.pk in stocked  # type: ignore[attr-defined]
    return products


# --- detail ----------


def product_detail_queryset(*, active_variants_only: bool) -> QuerySet[Product]:
    return Product.objects.select_related("shop", "category").prefetch_related(
        _variants(active_only=active_variants_only), _images()
    )


def product_visible_to(*, product_status: str, shop_active: bool, owner_id: Any, user: Any) -> bool:
    """Published products of active shops are public; the rest only to their seller and staff."""
    if product_status == Product.Status.PUBLISHED and shop_active:
        return True
    if not (user and user.is_authenticated):
        return False
    return bool(user.is_staff or str(owner_id) == str(user.pk))


def product_resolve_id(*, ident: str, user: Any, shop: str = "") -> UUID:
    """The id a detail path names. An id is taken as is (visibility is checked on the cached
    entry; when no product visible to the caller has it, the view tries `product_resolve_slug`,
    for a slug from before slugs could not look like ids); anything else is a slug."""
    pk = as_uuid(ident)
    if pk is not None:
        return pk
    return product_resolve_slug(ident=ident, user=user, shop=shop)


def product_resolve_slug(*, ident: str, user: Any, shop: str = "") -> UUID:
    """The id of the product with slug `ident`: a slug is unique only per shop, so `shop`
    narrows it, and among several products with the slug the caller may see, a published one
    wins, then the oldest. Raises ProductNotFound."""
    candidates = Product.objects.filter(slug=ident)
    if shop:
        candidates = candidates.filter(id_or_slug(shop, prefix="shop__"))
    visible = Q(status=Product.Status.PUBLISHED, shop__status="active")
    if _is_staff(user):
        visible = Q()
    elif user and user.is_authenticated:
        visible |= Q(shop__owner_id=user.pk)
    found = (
        candidates.filter(visible)
        .order_by(
            Case(
                When(status=Product.Status.PUBLISHED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "created_at",
        )
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise ProductNotFound(f"No product {ident!r}.")
    return found


# --- seller ----------


def product_scope_for(actor: Any) -> QuerySet[Product]:
    """Products `actor` may change: staff all, a seller their shop's; others none (404)."""
    if _is_staff(actor):
        return Product.objects.all()
    return Product.objects.filter(shop__owner_id=actor.pk)


def product_get_for_write(*, actor: Any, ident: Any) -> Product:
    product = (
        product_scope_for(actor)
        .filter(id_or_slug(ident))
        .select_related("shop", "category")
        .order_by(*id_first(ident), "created_at")
        .first()
    )
    if product is None:
        raise ProductNotFound(f"No product {ident!r}.")
    return product


def product_get_full(*, product_id: Any, active_variants_only: bool = False) -> Product:
    product = (
        product_detail_queryset(active_variants_only=active_variants_only)
        .filter(pk=product_id)
        .first()
    )
    if product is None:
        raise ProductNotFound()
    return product


def variant_get_for_write(*, product: Product, variant_id: Any) -> ProductVariant:
    pk = as_uuid(variant_id)
    variant = (
        ProductVariant.objects.select_related("stock").filter(product=product, pk=pk).first()
        if pk
        else None
    )
    if variant is None:
        raise VariantNotFound(f"No variant {variant_id} in this product.")
    return variant


def seller_product_list(*, actor: Any, status: str = "", search: str = "") -> QuerySet[Product]:
    products = product_scope_for(actor).select_related("shop", "category")
    if status:
        products = products.filter(status=status)
    ordering: tuple[str, ...] = ("-created_at", "id")
    if search:
        products = search_apply(products, search)
        ordering = ORDERINGS["relevance"]
    return _summaries(products).order_by(*ordering)


# --- categories ----------


def category_tree() -> list[dict[str, Any]]:
    """The whole tree as nested dicts, from one query in path order."""
    roots: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    for category in Category.objects.order_by("path"):
        node = {
            "id": str(category.pk),
            "name": category.name,
            "slug": category.slug,
            "description": category.description,
            "shop_id": str(category.shop_id) if category.shop_id else None,
            "children": [],
        }
        del stack[category.depth - 1 :]
        (stack[-1]["children"] if stack else roots).append(node)
        stack.append(node)
    return roots
