"""Catalog admin. Status changes go through the services (publish/unpublish actions) so events
are emitted. Forms check attributes and variant options with the API's own checks
(`apps.catalog.forms`); edits and deletions made in forms and inlines refresh the derived data
(price, search vector, cache versions) through `product_refresh_derived`, or bump the cache when
the product is gone. Stock is shown read-only: it changes only through the inventory services,
which keep the ledger."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from apps.catalog.cache import category_cache_bump, product_cache_bump
from apps.catalog.forms import ProductAdminForm, VariantAdminForm, VariantInlineFormSet
from apps.catalog.models import Category, Product, ProductImage, ProductVariant
from apps.catalog.services import product_publish, product_refresh_derived, product_unpublish
from apps.core.errors import DomainError
from apps.inventory.models import StockItem


@admin.register(Category)
class CategoryAdmin(TreeAdmin):
    form = movenodeform_factory(Category)
    list_display = ("name", "slug", "shop")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    raw_id_fields = ("shop",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        category_cache_bump()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        category_cache_bump()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().delete_queryset(request, queryset)
        category_cache_bump()

    def move_node(self, request: HttpRequest) -> HttpResponse:
        response = super().move_node(request)
        category_cache_bump()
        return response


class VariantInline(admin.TabularInline):
    model = ProductVariant
    formset = VariantInlineFormSet
    extra = 0
    readonly_fields = ("on_hand", "reserved", "available")
    fields = ("sku", "options", "price", "is_active", "position", *readonly_fields)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("stock")

    @staticmethod
    def _stock(variant: ProductVariant) -> Any:
        return getattr(variant, "stock", None) if variant.pk else None

    @admin.display(description="on hand")
    def on_hand(self, variant: ProductVariant) -> int:
        stock = self._stock(variant)
        return stock.on_hand if stock else 0

    @admin.display(description="reserved")
    def reserved(self, variant: ProductVariant) -> int:
        stock = self._stock(variant)
        return stock.reserved if stock else 0

    @admin.display(description="available")
    def available(self, variant: ProductVariant) -> int:
        stock = self._stock(variant)
        return stock.available if stock else 0


class ImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("asset", "position", "alt_text")
    raw_id_fields = ("asset",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ("name", "shop", "type", "status", "price", "rating_avg", "published_at")
    list_filter = ("status", "type", "shop")
    list_select_related = ("shop",)
    search_fields = ("name", "slug", "description", "variants__sku")
    readonly_fields = (
        "status",
        "price",
        "published_at",
        "rating_avg",
        "rating_count",
        "rating_histogram",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("shop", "category")
    inlines = [VariantInline, ImageInline]
    actions = ("publish", "unpublish")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.price is None:
            obj.price = 0  # replaced by the lowest variant price in save_related
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        product_refresh_derived(product=form.instance)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        product_id = obj.pk  # deleting clears obj.pk
        super().delete_model(request, obj)
        product_cache_bump(product_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        product_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for product_id in product_ids:
            product_cache_bump(product_id)

    def _apply(self, request: HttpRequest, queryset: QuerySet, service: Any, verb: str) -> None:
        done = 0
        for product in queryset:
            try:
                service(actor=request.user, product=product)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{product}: {exc.detail}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} product(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Publish selected products")
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, product_publish, "published")

    @admin.action(description="Unpublish selected products (back to draft)")
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, product_unpublish, "unpublished")


class StockInline(admin.StackedInline):
    """Read-only: stock changes go through the inventory services and their ledger."""

    model = StockItem
    fields = ("on_hand", "reserved", "low_stock_threshold")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    form = VariantAdminForm
    list_display = ("sku", "product", "price", "is_active")
    list_filter = ("is_active", "product__type", "product__shop")
    list_select_related = ("product",)
    search_fields = ("sku", "product__name")
    raw_id_fields = ("product",)
    inlines = [StockInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A variant stays with its product (as in the API): moving it would leave the old
        # product's price and cached pages behind.
        return ("product",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        product_refresh_derived(product=obj.product)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        product = obj.product
        super().delete_model(request, obj)
        product_refresh_derived(product=product)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        products = list(Product.objects.filter(variants__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for product in products:
            product_refresh_derived(product=product)
