from django.contrib import admin

from apps.discounts.models import Discount, DiscountRedemption


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
class DiscountAdmin(admin.ModelAdmin):
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
