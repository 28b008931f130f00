"""Discount codes in the admin. Saves go through `discount_create` / `discount_update`, as in the
API: the same checks (targets of the code's shop, percentage bounds, max_uses not below the uses
made), the `shop.new_discount` announcement, and only the changed columns written, so the
`uses_count` counter (kept by discount_redeem/release) is never written back."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.discounts.models import Discount, DiscountRedemption
from apps.discounts.services import WRITABLE_FIELDS, discount_create, discount_update
from apps.users.models import Shop


class DiscountRedemptionInline(admin.TabularInline):
    model = DiscountRedemption
    extra = 0
    can_delete = False
    fields = ("user", "order_id", "amount", "created_at", "released_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Discount)
class DiscountAdmin(ServiceRefusalsAdmin):
    list_display = (
        "code",
        "shop",
        "type",
        "value",
        "uses_count",
        "max_uses",
        "is_active",
        "is_public",
        "starts_at",
        "ends_at",
    )
    list_filter = ("is_active", "is_public", "type", "applies_to")
    search_fields = ("code", "name", "shop__name", "shop__slug")
    list_select_related = ("shop",)
    raw_id_fields = ("shop", "products")
    filter_horizontal = ("categories",)
    readonly_fields = ("uses_count", "announced_at", "created_at", "updated_at")
    inlines = [DiscountRedemptionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A code stays with its shop (its redemptions and targets belong to that shop).
        if obj is None:
            return self.readonly_fields
        return ("shop", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Discount, form: Any, change: bool) -> None:
        data = form.cleaned_data
        names = [n for n in WRITABLE_FIELDS if n in data and (not change or n in form.changed_data)]
        fields = {name: data[name] for name in names}
        targets: dict[str, Any] = {}
        if "products" in data and (not change or "products" in form.changed_data):
            targets["product_ids"] = [product.pk for product in data["products"]]
        if "categories" in data and (not change or "categories" in form.changed_data):
            targets["category_ids"] = [category.pk for category in data["categories"]]
        if change:
            saved = discount_update(discount=obj, **targets, **fields)
        else:
            shop: Shop = data["shop"]
            saved = discount_create(shop=shop, **targets, **fields)
        # The admin goes on with `obj` (log entry, message, redirect): make it the saved row.
        obj.__dict__.update(saved.__dict__)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The products and categories were set by the service; only the (read-only) inline is
        # left, saved as the admin does.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
