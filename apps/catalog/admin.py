"""Catalog admin. What the API refuses, the admin refuses, with the services' own checks and
writes:

- Products are archived, never deleted (`product_archive`: `product.unpublished` for a published
  product, the shop's product_count, the cache); the archive action and the Archive button ask
  for confirmation first. Archived products are read-only, with their variants and images.
- Status changes are the publish/unpublish actions, which call the services (events included).
- Variants are deleted and deactivated by `variant_delete` and `variant_update` (last variant,
  last active variant of a published product, reserved stock); their refusals are form errors or
  error messages, and nothing changes.
- Forms check attributes, category and variant options with the API's own checks
  (`apps.catalog.forms`); the shop and the slug are read-only once the product exists. Other
  edits made in forms and inlines refresh the derived data (price, search vector, cache versions)
  through `product_refresh_derived`.
- Stock is shown read-only: it changes only through the inventory services, which keep the
  ledger."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as delete_selected_confirmation
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export.admin import ImportExportMixin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from apps.catalog.cache import (
    category_cache_bump,
    product_cache_bump_many,
    products_in_categories,
)
from apps.catalog.errors import ProductArchived
from apps.catalog.forms import ProductAdminForm, VariantAdminForm, VariantInlineFormSet
from apps.catalog.models import Category, Product, ProductImage, ProductVariant
from apps.catalog.resources import ProductResource
from apps.catalog.services import (
    product_archive,
    product_change_check,
    product_publish,
    product_refresh_derived,
    product_unpublish,
    variant_delete,
    variant_removal_check,
    variant_update,
)
from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.core.errors import DomainError
from apps.users.request_user import request_user


def _changeable(product: Product | None) -> bool:
    """Whether the services still change `product` (not archived); a new product (None) may."""
    if product is None or product.pk is None:
        return True
    try:
        product_change_check(product=product)
    except ProductArchived:
        return False
    return True


class _ServiceAdmin(ServiceRefusalsAdmin):
    """Change forms whose refusals are visible: a form posted for an archived product is refused
    with the service's message (not a bare 403), and a refusal that a service raises while the
    admin saves is shown as an error message with nothing saved (ServiceRefusalsAdmin)."""

    def _archived_post(self, request: HttpRequest, object_id: str | None) -> HttpResponse | None:
        """The refusal of a form posted for an archived product, if it is one."""
        return None

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        refused = self._archived_post(request, object_id)
        if refused is not None:
            return refused
        return super().changeform_view(request, object_id, form_url, extra_context)


class _ProductInline(admin.TabularInline):
    """Rows of an archived product are read-only, as the product is (`obj`: the product)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _changeable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _changeable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _changeable(obj) and super().has_delete_permission(request, obj)


@admin.register(Category)
class CategoryAdmin(TreeAdmin):
    form = movenodeform_factory(Category)
    list_display = ("name", "slug", "shop")
    list_select_related = ("shop",)  # nullable (global categories): not joined by default
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("shop",)

    # Product details show their category's id, slug and name: a rename bumps the products filed
    # under it, a delete (which takes the descendants along and leaves their products without a
    # category) the products of the whole subtree, read before the rows go.

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        category_cache_bump()
        if change:
            product_cache_bump_many(products_in_categories([obj.pk]))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        products = products_in_categories(node.pk for node in Category.objects.get_tree(obj))
        super().delete_model(request, obj)
        category_cache_bump()
        product_cache_bump_many(products)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        products = products_in_categories(
            node.pk for category in queryset for node in Category.objects.get_tree(category)
        )
        super().delete_queryset(request, queryset)
        category_cache_bump()
        product_cache_bump_many(products)

    def move_node(self, request: HttpRequest) -> HttpResponse:
        response = super().move_node(request)
        category_cache_bump()
        return response


class VariantInline(_ProductInline):
    """Deleting a row or unticking `is_active` goes through `variant_delete` / `variant_update`
    (see VariantInlineFormSet): the services' refusals are the form's errors."""

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


class ImageInline(_ProductInline):
    model = ProductImage
    extra = 0
    fields = ("asset", "position", "alt_text")
    raw_id_fields = ("asset",)


@admin.register(Product)
class ProductAdmin(ImportExportMixin, _ServiceAdmin):
    """Import and export (CSV, XLSX): products with their variants, prices and initial stock
    through the catalog services (apps.catalog.resources), a dry run first."""

    form = ProductAdminForm
    resource_classes = [ProductResource]
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
    autocomplete_fields = ("shop", "category")
    inlines = [VariantInline, ImageInline]
    actions = ("publish", "unpublish", "archive")

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request_user(request)}

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request_user(request)}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The shop stays (moving a product would leave both shops' product_count wrong) and so
        # does the slug (stable URLs), as in the API.
        if obj is None:
            return self.readonly_fields
        return ("shop", "slug", *self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An archived product is shown read-only (view permission), as the API refuses changes.
        return super().has_change_permission(request, obj) and _changeable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # products are archived (orders, stock reservations and carts keep them)

    def _archived_post(self, request: HttpRequest, object_id: str | None) -> HttpResponse | None:
        """A form posted for an archived product (opened before it was archived): refused with
        the service's message instead of a bare 403."""
        if request.method != "POST" or object_id is None:
            return None
        product = self.get_object(request, unquote(object_id))
        if product is None or not super().has_change_permission(request, product):
            return None
        try:
            product_change_check(product=product)
        except ProductArchived as exc:
            self.message_user(request, f"{product}: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        return None

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        self.message_user(
            request,
            "Products are not deleted: archive them (orders, stock reservations and carts "
            "refer to them).",
            messages.ERROR,
        )
        return HttpResponseRedirect(
            reverse(
                "admin:catalog_product_change", args=[object_id], current_app=self.admin_site.name
            )
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.price is None:
            obj.price = 0  # replaced by the lowest variant price in save_related
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only the columns the form changed: status, price and the rating fields belong to the
        # services and to reviews, which may have written them since this request read the row.
        columns = {field.name for field in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if isinstance(formset, VariantInlineFormSet):
            formset.actor = request.user  # its deletes and deactivations call the services
        super().save_formset(request, form, formset, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        product_refresh_derived(product=form.instance)

    def _apply(self, request: HttpRequest, products: Any, service: Any, verb: str) -> None:
        done = 0
        for product in products:
            try:
                service(actor=request.user, product=product)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{product}: {exc.detail}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} product(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Publish selected products", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, product_publish, "published")

    @admin.action(description="Unpublish selected products (back to draft)", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, product_unpublish, "unpublished")

    @admin.action(
        description="Archive selected products (hidden for good, kept for orders)",
        permissions=["change"],
    )
    def archive(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        products = list(queryset.select_related("shop"))
        if not request.POST.get("post"):
            changelist = reverse(
                "admin:catalog_product_changelist", current_app=self.admin_site.name
            )
            return self._archive_confirmation(request, products, changelist, action="archive")
        to_archive = []
        for product in products:
            if _changeable(product):
                to_archive.append(product)
            else:
                self.message_user(request, f"{product} was already archived.", messages.WARNING)
        self._apply(request, to_archive, product_archive, "archived")
        return None

    def get_urls(self) -> list:
        archive = path(
            "<path:object_id>/archive/",
            self.admin_site.admin_view(self.archive_view),
            name="catalog_product_archive",
        )
        return [archive, *super().get_urls()]

    def archive_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Archive button: a confirmation page, then `product_archive` on POST."""
        product = self.get_object(request, unquote(object_id))
        if product is None:
            # What the admin's own views answer for a missing object.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not super().has_change_permission(request, product):
            raise PermissionDenied
        change_url = reverse(
            "admin:catalog_product_change", args=[product.pk], current_app=self.admin_site.name
        )
        if not _changeable(product):
            self.message_user(request, f"{product} was already archived.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        if request.method != "POST":
            return self._archive_confirmation(request, [product], change_url)
        try:
            product_archive(actor=request_user(request), product=product)
        except DomainError as exc:
            self.message_user(request, f"{product}: {exc.detail}", messages.ERROR)
        else:
            self.log_change(request, product, "Archived.")
            self.message_user(request, f"{product} archived.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def _archive_confirmation(
        self, request: HttpRequest, products: list[Product], cancel_url: str, *, action: str = ""
    ) -> TemplateResponse:
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "Archive products?" if len(products) > 1 else f"Archive “{products[0]}”?",
            "opts": self.opts,
            "products": products,
            "action": action,
            "cancel_url": cancel_url,
        }
        return TemplateResponse(request, "admin/catalog/product/archive.html", context)


# Inlines that apps above the catalog add to the variant page (inventory adds the stock row):
# the catalog names none of them.
VARIANT_PAGE_INLINES: list[type[InlineModelAdmin]] = []


def variant_page_inline_register(inline: type[InlineModelAdmin]) -> None:
    if inline not in VARIANT_PAGE_INLINES:
        VARIANT_PAGE_INLINES.append(inline)


@admin.register(ProductVariant)
class ProductVariantAdmin(_ServiceAdmin):
    """Changes are saved by `variant_update` and deletions made by `variant_delete`, as in the API;
    a new variant is checked by the form (options, not for an archived product)."""

    form = VariantAdminForm
    list_display = ("sku", "product", "price", "is_active")
    list_filter = ("is_active", "product__type", "product__shop")
    list_select_related = ("product",)
    search_fields = ("sku", "product__name")
    autocomplete_fields = ("product",)
    actions = ("delete_selected",)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list:
        return [*super().get_inlines(request, obj), *VARIANT_PAGE_INLINES]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A variant stays with its product (as in the API): moving it would leave the old
        # product's price and cached pages behind.
        return ("product",) if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        product = obj.product if obj is not None else None
        return super().has_change_permission(request, obj) and _changeable(product)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        product = obj.product if obj is not None else None
        return super().has_delete_permission(request, obj) and _changeable(product)

    def _archived_post(self, request: HttpRequest, object_id: str | None) -> HttpResponse | None:
        """A variant form posted for an archived product: refused with the service's message."""
        if request.method != "POST" or object_id is None:
            return None
        variant = self.get_object(request, unquote(object_id))
        if variant is None or not super().has_change_permission(request, variant):
            return None
        try:
            product_change_check(product=variant.product)
        except ProductArchived as exc:
            self.message_user(request, f"{variant}: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        return None

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        # The page still lists what goes with a variant (its stock row, ledger and cart lines);
        # whether that may go is the service's decision (`variant_delete`), as in the API, not
        # the admin permissions of those rows (the ledger admin is read-only).
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        variant = self.get_object(request, unquote(object_id))
        if variant is not None and super().has_delete_permission(request):
            # Refused before the confirmation page, with the service's own check.
            try:
                variant_removal_check(product=variant.product, delete=[variant.pk])
            except DomainError as exc:
                self.message_user(request, f"{variant}: {exc.detail}", messages.ERROR)
                return HttpResponseRedirect(
                    reverse(
                        "admin:catalog_productvariant_change",
                        args=[variant.pk],
                        current_app=self.admin_site.name,
                    )
                )
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            variant_update(actor=request_user(request), variant=obj, data=data)
            return
        super().save_model(request, obj, form, change)
        product_refresh_derived(product=obj.product)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        variant_delete(actor=request_user(request), variant=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for variant in list(queryset):
            variant_delete(actor=request_user(request), variant=variant)

    @admin.action(description="Delete selected %(verbose_name_plural)s", permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Django's confirmation page, then `variant_delete` for each variant in turn: a refused
        one is reported and left as it was, the others are deleted."""
        if not request.POST.get("post"):
            return delete_selected_confirmation(self, request, queryset)
        deleted = 0
        for variant in list(queryset.select_related("product")):
            try:
                with transaction.atomic():  # the log entry goes with a refused deletion
                    # The stubs say QuerySet; log_deletions only iterates it (Django passes
                    # lists to log_actions itself).
                    self.log_deletions(request, [variant])  # type: ignore[arg-type]
                    variant_delete(actor=request_user(request), variant=variant)
            except DomainError as exc:
                self.message_user(request, f"{variant}: {exc.detail}", messages.ERROR)
            else:
                deleted += 1
        if deleted:
            self.message_user(request, f"{deleted} variant(s) deleted.", messages.SUCCESS)
        return None
