"""Stock levels in CSV and XLSX: `sku`, `product`, `on_hand`, `reserved`, `available`,
`low_stock_threshold`. An import sets each SKU's counted `on_hand` (a `correction` of the
difference in the ledger, through `stock_count_set`) and its `low_stock_threshold`
(`stock_threshold_set`); `product`, `reserved` and `available` are only exported. A row equal to
what is stored is skipped, so the same file imported twice changes nothing."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from import_export.instance_loaders import BaseInstanceLoader

from apps.catalog.models import ProductVariant
from apps.core.errors import DomainError
from apps.core.resources import CountWidget, ServiceResource, column_field, refusal_errors
from apps.inventory.models import StockItem
from apps.inventory.services import STOCK_MAX, stock_count_set, stock_threshold_set

if TYPE_CHECKING:
    from apps.shops.models import Shop
    from apps.users.models import User

REFUSAL_COLUMNS = {
    "inventory.below_reserved": "on_hand",
    "inventory.above_maximum": "on_hand",
    "on_hand": "on_hand",
    "low_stock_threshold": "low_stock_threshold",
}


@dataclass
class StockRow:
    sku: str | None = None
    product: str | None = None
    on_hand: int | None = None
    reserved: int = 0
    available: int = 0
    low_stock_threshold: int | None = None
    variant: ProductVariant | None = None

    @property
    def pk(self) -> Any:
        return self.variant.pk if self.variant else None

    def __str__(self) -> str:
        return self.sku or ""

    @classmethod
    def of(cls, variant: ProductVariant) -> "StockRow":
        stock = getattr(variant, "stock", None)
        on_hand, reserved = (stock.on_hand, stock.reserved) if stock else (0, 0)
        return cls(
            sku=variant.sku,
            product=variant.product.name,
            on_hand=on_hand,
            reserved=reserved,
            available=on_hand - reserved,
            low_stock_threshold=stock.low_stock_threshold
            if stock
            else StockItem._meta.get_field("low_stock_threshold").get_default(),
            variant=variant,
        )


class _Loader(BaseInstanceLoader):
    def get_instance(self, row: Any) -> Any:
        return self.resource.stored_row(row)


class StockResource(ServiceResource):
    sku = column_field("sku")
    product = column_field("product", readonly=True)
    on_hand = column_field("on_hand", CountWidget(maximum=STOCK_MAX))
    reserved = column_field("reserved", readonly=True)
    available = column_field("available", readonly=True)
    low_stock_threshold = column_field("low_stock_threshold", CountWidget())

    class Meta:
        import_id_fields = ("sku",)
        instance_loader_class = _Loader
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True

    def __init__(
        self, *, actor: "User | None" = None, shop: "Shop | None" = None, **kwargs: Any
    ) -> None:
        """`actor`: who imports (exports need none). `shop`: the seller's shop, whose SKUs
        alone the file may name (None: staff)."""
        super().__init__(**kwargs)
        self.actor, self.own_shop = actor, shop
        self._stored: dict[str, ProductVariant] = {}

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        skus = {str(s).strip() for s in dataset["sku"] if s} if "sku" in dataset.headers else set()
        variants = ProductVariant.objects.filter(sku__in=skus).select_related("product", "stock")
        if self.own_shop is not None:
            variants = variants.filter(product__shop=self.own_shop)
        self._stored = {variant.sku: variant for variant in variants}

    def stored_row(self, row: Any) -> StockRow:
        sku = str(row.get("sku") or "").strip()
        variant = self._stored.get(sku)
        if variant is None:
            where = "in your shop" if self.own_shop is not None else ""
            raise ValidationError({"sku": f"No variant with SKU {sku!r} {where}".strip() + "."})
        return StockRow.of(variant)

    def init_instance(self, row: Any = None) -> StockRow:
        return StockRow()  # not reached: every row names a stored SKU (stored_row)

    def skip_row(
        self, instance: Any, original: Any, row: Any, import_validation_errors: Any = None
    ) -> bool:
        if import_validation_errors:
            return False
        return bool(
            (instance.on_hand, instance.low_stock_threshold)
            == (original.on_hand, original.low_stock_threshold)
        )

    def save_instance(self, instance: Any, is_create: bool, row: Any, **kwargs: Any) -> None:
        variant = instance.variant
        stored = StockRow.of(variant)
        try:
            if instance.on_hand != stored.on_hand:
                stock_count_set(
                    variant_id=variant.pk,
                    on_hand=instance.on_hand,
                    note="stock level import",
                    actor=self.actor,
                )
            if instance.low_stock_threshold != stored.low_stock_threshold:
                stock_threshold_set(
                    variant_id=variant.pk, low_stock_threshold=instance.low_stock_threshold
                )
        except DomainError as exc:
            raise refusal_errors(exc, REFUSAL_COLUMNS) from exc

    def get_queryset(self) -> QuerySet[StockItem]:
        return StockItem.objects.all()

    def iter_queryset(self, queryset: Any) -> Iterator[StockRow]:
        """The rows of `queryset`'s stock items, in SKU order."""
        variants = (
            ProductVariant.objects.filter(stock__in=queryset)
            .select_related("product", "stock")
            .order_by("sku")
        )
        for variant in variants.iterator(chunk_size=2000):
            yield StockRow.of(variant)
