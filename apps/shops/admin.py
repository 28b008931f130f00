from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.shops.models import Shop, ShopFollow
from apps.shops.services import (
    shop_commission_rate_set,
    shop_create,
    shop_status_set,
    shop_update,
)
from apps.users.request_user import request_user


@admin.register(Shop)
class ShopAdmin(ServiceRefusalsAdmin):
    """Changes go through the services, which write only the changed columns (the counters,
    kept by F() updates, are never written back) and emit `shop.updated`, so the storefront's
    cached products show the new name or status. The owner and the slug stay, as in the API."""

    list_display = (
        "name", "slug", "owner", "status", "commission_rate", "follower_count", "product_count",
    )  # fmt: skip
    list_filter = ("status",)
    search_fields = ("name", "slug", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "logo")
    readonly_fields = ("follower_count", "product_count", "rating_avg", "rating_count")
    actions = ["suspend", "activate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The slug comes from the name on creation (shop_create, as in the API) and stays.
        if obj is None:
            return ("slug", *self.readonly_fields)
        return ("owner", "slug", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Shop, form: Any, change: bool) -> None:
        if not change:
            new = form.cleaned_data
            shop = shop_create(
                owner=new["owner"],
                name=new["name"],
                description=new.get("description", ""),
                shipping_fee=new["shipping_fee"],
                free_shipping_threshold=new.get("free_shipping_threshold"),
            )
            if new.get("logo") is not None:
                shop_update(
                    shop=shop, actor=request_user(request), data={"logo_id": new["logo"].pk}
                )
            if new.get("status") and new["status"] != shop.status:
                shop_status_set(shop=shop, status=new["status"])
            if new.get("commission_rate") is not None:
                shop_commission_rate_set(shop=shop, rate=new["commission_rate"])
            # The admin goes on with `obj` (log entry, message, redirect): make it the saved row.
            obj.pk = shop.pk
            obj.refresh_from_db()
            return
        changed = set(form.changed_data)
        data: dict[str, Any] = {name: form.cleaned_data[name] for name in changed}
        if "logo" in changed:
            data["logo_id"] = obj.logo_id
        shop_update(shop=obj, actor=request_user(request), data=data)
        if "status" in changed:
            shop_status_set(shop=obj, status=obj.status)
        if "commission_rate" in changed:
            shop_commission_rate_set(shop=obj, rate=obj.commission_rate)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Shop], status: str) -> int:
        return sum(shop_status_set(shop=shop, status=status) for shop in queryset)

    @admin.action(
        description="Suspend selected shops (hidden from the public)", permissions=["change"]
    )
    def suspend(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = self._set_status(request, queryset, Shop.Status.SUSPENDED)
        self.message_user(request, f"Suspended {updated} shop(s).", messages.SUCCESS)

    @admin.action(description="Activate selected shops", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = self._set_status(request, queryset, Shop.Status.ACTIVE)
        self.message_user(request, f"Activated {updated} shop(s).", messages.SUCCESS)


@admin.register(ShopFollow)
class ShopFollowAdmin(admin.ModelAdmin):
    list_display = ("shop", "user", "created_at")
    search_fields = ("shop__name", "user__email")
    list_select_related = ("shop", "user")
    raw_id_fields = ("shop", "user")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # follows move the shop's counter; they change through the API only

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
