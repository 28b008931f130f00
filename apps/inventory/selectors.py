"""Stock reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict, TypeVar
from uuid import UUID

from django.db.models import F, IntegerField, QuerySet, Value
from django.db.models.functions import Coalesce

from apps.catalog.models import Product, ProductVariant
from apps.inventory.errors import VariantNotFound
from apps.inventory.models import StockItem, StockMovement

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

DEFAULT_LOW_STOCK_THRESHOLD: int = StockItem._meta.get_field("low_stock_threshold").default


class StockFigures(TypedDict):
    """The annotations `inventory_rows` puts on each variant."""

    on_hand: int
    reserved: int
    low_stock_threshold: int
    available: int


_Variants = TypeVar("_Variants", bound="QuerySet[ProductVariant]")


def stock_available(variant_ids: Iterable[UUID]) -> dict[UUID, int]:
    """Available units (on_hand - reserved) per variant; a variant without stock row has 0."""
    ids = list(variant_ids)
    result = dict.fromkeys(ids, 0)
    result.update(
        StockItem.objects.filter(variant_id__in=ids)
        .annotate(left=F("on_hand") - F("reserved"))
        .values_list("variant_id", "left")
    )
    return result


def inventory_rows() -> QuerySet[WithAnnotations[ProductVariant, StockFigures]]:
    """Variants with their stock figures as annotations (0 and the default threshold when the
    variant has no stock row yet) and the product selected: one query per page."""
    zero = Value(0, output_field=IntegerField())
    return (
        ProductVariant.objects.select_related("product")
        .annotate(
            on_hand=Coalesce(F("stock__on_hand"), zero),
            reserved=Coalesce(F("stock__reserved"), zero),
            low_stock_threshold=Coalesce(
                F("stock__low_stock_threshold"),
                Value(DEFAULT_LOW_STOCK_THRESHOLD, output_field=IntegerField()),
            ),
        )
        .annotate(available=F("on_hand") - F("reserved"))
    )


def _scope(queryset: _Variants, user) -> _Variants:
    if user.is_staff:
        return queryset
    return queryset.filter(product__shop__owner_id=user.pk)


def seller_inventory_list(
    *, user, low_stock: bool = False, shop_slug: str | None = None
) -> QuerySet[ProductVariant]:
    """The caller's shop's active variants of live products (staff: every shop, `shop_slug`
    narrows), product name order; `low_stock` keeps those at or below their threshold."""
    rows = (
        _scope(inventory_rows(), user)
        .filter(is_active=True)
        .exclude(product__status=Product.Status.ARCHIVED)
    )
    if shop_slug:
        rows = rows.filter(product__shop__slug=shop_slug)
    if low_stock:
        rows = rows.filter(available__lte=F("low_stock_threshold"))
    return rows.order_by("product__name", "product_id", "position", "sku")


def seller_inventory_row(*, user, variant_id: UUID) -> ProductVariant:
    """One row, visible only to the variant's shop seller and staff (others: VariantNotFound)."""
    row = _scope(inventory_rows(), user).filter(pk=variant_id).first()
    if row is None:
        raise VariantNotFound("No such variant in your shop.")
    return row


def seller_variant_check(*, user, variant_id: UUID) -> None:
    """Raise VariantNotFound unless the caller may manage this variant's stock."""
    if not _scope(ProductVariant.objects.filter(pk=variant_id), user).exists():
        raise VariantNotFound("No such variant in your shop.")


def stock_movements(*, variant_id: UUID) -> QuerySet[StockMovement]:
    """The ledger of one variant, newest first, with the actor selected."""
    return (
        StockMovement.objects.filter(stock_item__variant_id=variant_id)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
