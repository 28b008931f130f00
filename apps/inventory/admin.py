"""Stock in the admin. Quantities change only through the services (the ledger must see every
change), so on_hand and reserved are read-only here; the threshold is editable."""

from typing import Any

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest

from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import stock_threshold_set


class LowStockFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "low_stock"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "At or below threshold"), ("no", "Above threshold")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        low = F("on_hand") - F("reserved")
        if self.value() == "yes":
            return queryset.alias(left=low).filter(left__lte=F("low_stock_threshold"))
        if self.value() == "no":
            return queryset.alias(left=low).filter(left__gt=F("low_stock_threshold"))
        return queryset


class StockMovementInline(admin.TabularInline):
    model = StockMovement
    fields = ("created_at", "kind", "quantity", "on_hand_after", "reserved_after", "note", "actor")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-created_at",)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


@admin.register(StockItem)
class StockItemAdmin(ServiceRefusalsAdmin):
    list_display = ("sku", "product", "on_hand", "reserved", "available", "low_stock_threshold")
    list_select_related = ("variant__product",)
    list_filter = (LowStockFilter, "variant__product__shop")
    search_fields = ("variant__sku", "variant__product__name")
    readonly_fields = ("variant", "on_hand", "reserved", "available", "created_at", "updated_at")
    fields = (*readonly_fields[:4], "low_stock_threshold", *readonly_fields[4:])
    inlines = [StockMovementInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are created by stock_adjust

    def save_model(self, request: HttpRequest, obj: StockItem, form: Any, change: bool) -> None:
        # Only the threshold column is written: a full save would write back the on_hand and
        # reserved read with the form, undoing a reservation made meanwhile.
        stock_threshold_set(variant_id=obj.variant_id, low_stock_threshold=obj.low_stock_threshold)

    def has_delete_permission(self, request: HttpRequest, obj: StockItem | None = None) -> bool:
        # A stock row holds reservations and its ledger: it goes only with its variant, through
        # the catalog's variant_delete (which refuses a variant with reserved stock).
        return False

    @admin.display(ordering="variant__sku")
    def sku(self, obj: StockItem) -> str:
        return obj.variant.sku

    @admin.display(ordering="variant__product__name")
    def product(self, obj: StockItem) -> str:
        return obj.variant.product.name

    @admin.display(description="available")
    def available(self, obj: StockItem) -> int:
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "sku",
        "kind",
        "quantity",
        "on_hand_after",
        "reserved_after",
        "actor",
        "order_id",
    )
    list_select_related = ("stock_item__variant", "actor")
    list_filter = ("kind",)
    search_fields = ("stock_item__variant__sku", "order_id", "note")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(ordering="stock_item__variant__sku")
    def sku(self, obj: StockMovement) -> str:
        return obj.stock_item.variant.sku
