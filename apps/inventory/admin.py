"""Stock in the admin. Quantities change only through `stock_adjust` (the ledger must see every
change, with who and why, and `stock.adjusted` / `stock.low` go out as from the API): the
"Adjust stock" page of a stock item (restock, correction, damage, return, with a note) and the
changelist's "Restock" action for many items at once. on_hand and reserved are read-only in the
forms; the threshold is editable."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export.admin import ImportExportMixin

from apps.catalog.admin import variant_page_inline_register
from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.core.errors import DomainError
from apps.inventory.forms import RestockForm, StockAdjustForm
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.resources import StockResource
from apps.inventory.services import stock_adjust, stock_threshold_set
from apps.users.request_user import request_user


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


class StockInline(admin.StackedInline):
    """The variant page's stock row, read-only: stock changes go through the inventory services
    and their ledger."""

    model = StockItem
    fields = ("on_hand", "reserved", "low_stock_threshold")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


variant_page_inline_register(StockInline)


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
class StockItemAdmin(ImportExportMixin, ServiceRefusalsAdmin):
    """Import and export of stock levels (CSV, XLSX): counted on_hand and thresholds through
    the services (apps.inventory.resources), a dry run first."""

    resource_classes = [StockResource]
    list_display = ("sku", "product", "on_hand", "reserved", "available", "low_stock_threshold")
    list_select_related = ("variant__product",)
    list_filter = (LowStockFilter, "variant__product__shop")
    search_fields = ("variant__sku", "variant__product__name")
    readonly_fields = ("variant", "on_hand", "reserved", "available", "created_at", "updated_at")
    fields = (*readonly_fields[:4], "low_stock_threshold", *readonly_fields[4:])
    inlines = [StockMovementInline]
    actions = ("restock",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are created by stock_adjust

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("variant__product")

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request_user(request)}

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request_user(request)}

    def get_urls(self) -> list:
        adjust = path(
            "<path:object_id>/adjust/",
            self.admin_site.admin_view(self.adjust_view),
            name="inventory_stockitem_adjust",
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Adjust stock" page: `stock_adjust` on POST; a refusal (below what is reserved,
        a restock with a negative delta, ...) shows the form again with the input kept."""
        item = self.get_object(request, unquote(object_id))
        if item is None:  # deleted meanwhile: back to the list, as the admin's own views do
            self.message_user(request, f"No stock item {object_id}.", messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:inventory_stockitem_changelist", current_app=self.admin_site.name)
            )
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        form = StockAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                adjusted = stock_adjust(
                    variant_id=item.variant_id, actor=request_user(request), **form.cleaned_data
                )
            except DomainError as exc:  # the sign, the reserved floor, the maximum: the delta's
                form.add_error("delta", exc.detail)
            else:
                change = f"{form.cleaned_data['reason']} {form.cleaned_data['delta']:+d}"
                self.log_change(request, item, f"Stock adjusted: {change}.")
                self.message_user(
                    request,
                    f"{item}: {change}, now {adjusted.on_hand} on hand.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(
                        "admin:inventory_stockitem_change",
                        args=[item.pk],
                        current_app=self.admin_site.name,
                    )
                )
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust stock of {item}",
            "opts": self.opts,
            "item": item,
            "form": form,
        }
        return TemplateResponse(request, "admin/inventory/stockitem/adjust.html", context)

    @admin.action(
        description="Restock selected items (asks for the quantity)", permissions=["change"]
    )
    def restock(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Adds the same quantity to each selected item, one `stock_adjust` (reason `restock`)
        each: an item the service refuses is reported and the others are restocked."""
        items = list(queryset.select_related("variant__product").order_by("variant__sku"))
        form = RestockForm(request.POST if request.POST.get("apply") else None)
        if form.is_valid():
            done = 0
            for item in items:
                try:
                    stock_adjust(
                        variant_id=item.variant_id,
                        delta=form.cleaned_data["quantity"],
                        reason="restock",
                        note=form.cleaned_data["note"],
                        actor=request_user(request),
                    )
                except DomainError as exc:
                    self.message_user(request, f"{item}: {exc.detail}", messages.ERROR)
                else:
                    done += 1
                    self.log_change(request, item, f"Restocked +{form.cleaned_data['quantity']}.")
            if done:
                self.message_user(request, f"{done} item(s) restocked.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/inventory/stockitem/restock.html",
            {
                **self.admin_site.each_context(request),
                "title": "Restock",
                "items": items,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.opts,
            },
        )

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
