"""Orders for spreadsheets and accounting: one row per order line, with its order's columns.
Export only: orders are placed by checkout and moved by their transitions, never imported."""

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from import_export import resources

from apps.orders.models import Order, OrderLine

COLUMNS = (
    ("order", "order__number"),
    ("placed_at", "order__created_at"),
    ("status", "order__status"),
    ("payment_status", "order__payment_status"),
    ("shop", "order__shop__slug"),
    ("buyer", "order__buyer__email"),
    ("currency", "order__currency"),
    ("sku", "sku"),
    ("product", "product_name"),
    ("quantity", "quantity"),
    ("unit_price", "unit_price"),
    ("line_discount", "discount"),
    ("line_total", "line_total"),
    ("order_subtotal", "order__subtotal"),
    ("order_discount", "order__discount_total"),
    ("shipping_fee", "order__shipping_fee"),
    ("order_total", "order__total"),
    ("tracking_number", "order__tracking_number"),
)


class OrderLineWidget(resources.widgets.Widget):
    """Values as text: money as two-place decimals, times in ISO 8601 (UTC)."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        if value is None:
            return ""
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)


class OrderExportResource(resources.Resource):
    @classmethod
    def get_display_name(cls) -> str:
        """The name the admin's export form shows (what ModelResource provides)."""
        return "Order lines"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for column, attribute in COLUMNS:
            self.fields[column] = resources.Field(
                attribute=attribute, column_name=column, widget=OrderLineWidget(), readonly=True
            )

    def get_queryset(self) -> QuerySet[Order]:
        return Order.objects.all()

    def iter_queryset(self, queryset: Any) -> Iterator[OrderLine]:
        """The lines of `queryset`'s orders, oldest order first."""
        lines = (
            OrderLine.objects.filter(order__in=queryset)
            .select_related("order__shop", "order__buyer")
            .order_by("order__created_at", "order__number", "created_at", "sku")
        )
        yield from lines.iterator(chunk_size=2000)

    def rows(self, queryset: QuerySet[Order]) -> Iterator[list[str]]:
        """The header, then one row per line: for streaming without building a dataset."""
        yield self.get_export_headers()
        for line in self.iter_queryset(queryset):
            yield self.export_resource(line)
