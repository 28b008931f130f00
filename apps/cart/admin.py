from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.cart.models import Cart, CartItem


class CartItemInline(admin.TabularInline):
    """Read-only: lines change through the cart services (purchasable variant, stock limits)."""

    model = CartItem
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("variant", "quantity", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("variant")


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("token", "created_at", "updated_at")
    inlines = [CartItemInline]
