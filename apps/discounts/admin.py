"""Discount codes in the admin. Saves go through `discount_create` / `discount_update`, as in the
API: the same checks (targets of the code's shop, percentage bounds, max_uses not below the uses
made), the `shop.new_discount` announcement, and only the changed columns written, so the
`uses_count` counter (kept by discount_redeem/release) is never written back. Deletes go through
`discount_delete`, as `DELETE /seller/discounts/{id}` does: a code that was ever redeemed is
deactivated instead, its redemption history kept."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.discounts.models import Discount, DiscountRedemption
from apps.discounts.services import (
    WRITABLE_FIELDS,
    discount_create,
    discount_delete,
    discount_update,
)
from apps.shops.models import Shop


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
    autocomplete_fields = ("shop", "products")
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
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The products and categories were set by the service; only the (read-only) inline is
        # left, saved as the admin does.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Redemptions (the only rows that protect a code) block a real delete, but
        # `discount_delete` deactivates a used code instead: they do not block the confirmation.
        deleted, counts, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Discount) -> None:
        if not discount_delete(discount=obj):
            request.discount_kept = obj.code  # type: ignore[attr-defined]  # for response_delete

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Discount]) -> None:
        kept = [d.code for d in queryset if not discount_delete(discount=d)]
        if kept:
            self.message_user(
                request,
                f"Used codes deactivated instead of deleted: {', '.join(kept)}.",
                messages.WARNING,
            )

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        kept = getattr(request, "discount_kept", None)
        if kept is None:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request,
            f"The code {kept} was used, so it was deactivated instead of deleted "
            "(its redemptions are kept).",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:discounts_discount_changelist"))
