"""Staff order admin: orders with their lines and history, filters, and actions that move orders
through the same services as the API (`order_transition`), never by editing the status field."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin

from apps.core.errors import DomainError
from apps.orders.models import Checkout, Order, OrderLine, OrderStatusChange
from apps.orders.resources import OrderExportResource
from apps.orders.services import order_transition
from apps.orders.status import ROLE_SELLER, ROLE_STAFF
from apps.users.request_user import request_user


def address_html(address: dict[str, Any]) -> str:
    """An API address (`{name, line1, line2, city, state, postal_code, country, phone}`) as
    escaped lines; blank parts are left out."""
    city = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    lines = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        ", ".join(part for part in (city, address.get("state")) if part),
        address.get("country"),
        address.get("phone"),
    ]
    return format_html(
        '<address class="shipping-address">{}</address>',
        format_html_join("", "{}<br>", ((line,) for line in lines if line)),
    )


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("product_name", "sku", "options", "unit_price", "quantity", "discount", "line_total")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0


class OrderStatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    fields = ("created_at", "from_status", "to_status", "actor", "actor_role", "note")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0


@admin.register(Order)
class OrderAdmin(ExportMixin, admin.ModelAdmin):
    """Export (CSV, XLSX): one row per order line of the orders listed (filters apply)."""

    resource_classes = [OrderExportResource]
    list_display = (
        "number",
        "shop",
        "buyer",
        "status",
        "payment_status",
        "total",
        "currency",
        "created_at",
    )
    list_filter = ("status", "payment_status", "payment_method", "shop", "created_at")
    list_select_related = ("shop", "buyer")
    search_fields = ("number", "checkout__number", "buyer__email", "tracking_number", "lines__sku")
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, OrderStatusChangeInline]
    actions = ("confirm", "ship", "deliver", "cancel", "refund", "refund_restock")
    fields = (
        "number",
        "checkout",
        "buyer",
        "shop",
        "status",
        "payment_method",
        "payment_status",
        "currency",
        "subtotal",
        "discount_total",
        "shipping_fee",
        "total",
        "address",
        "tracking_number",
        "cancel_reason",
        "cancelled_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders are placed through order_place only

    @admin.display(description="shipping address")
    def address(self, order: Order) -> str:
        """The address snapshot as it goes on a parcel, one line each."""
        return address_html(order.shipping_address)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _move(
        self, request: HttpRequest, queryset: QuerySet, to: str, **extra: Any
    ) -> tuple[int, int]:
        done = failed = 0
        for order in queryset.select_related("shop"):
            role = ROLE_SELLER if order.shop.owner_id == request.user.pk else ROLE_STAFF
            per_order = dict(extra)
            if callable(per_order.get("tracking_number")):
                per_order["tracking_number"] = per_order["tracking_number"](order)
            try:
                order_transition(
                    order_id=order.pk,
                    to=to,
                    actor=request_user(request),
                    actor_role=role,
                    **per_order,
                )
                done += 1
            except DomainError as exc:
                failed += 1
                self.message_user(request, f"{order.number}: {exc.detail}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} order(s) now {to}.", messages.SUCCESS)
        return done, failed

    @admin.action(description="Confirm selected orders", permissions=["change"])
    def confirm(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Order.Status.CONFIRMED)

    @admin.action(
        description="Ship selected orders (asks for tracking numbers)", permissions=["change"]
    )
    def ship(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if request.POST.get("apply") == "ship":
            numbers = {
                str(order.pk): request.POST.get(f"tracking_number_{order.pk}", "").strip()
                for order in queryset
            }
            self._move(
                request,
                queryset,
                Order.Status.SHIPPED,
                tracking_number=lambda order: numbers[str(order.pk)],
            )
            return None
        return TemplateResponse(
            request,
            "admin/orders/ship.html",
            {
                **self.admin_site.each_context(request),
                "title": "Ship orders",
                "orders": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def deliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Order.Status.DELIVERED)

    @admin.action(
        description="Cancel selected orders (releases stock and discount uses)",
        permissions=["change"],
    )
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Order.Status.CANCELLED, reason="cancelled by staff")

    @admin.action(description="Refund selected orders (goods not returned)", permissions=["change"])
    def refund(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Order.Status.REFUNDED)

    @admin.action(
        description="Refund selected orders and return the goods to stock", permissions=["change"]
    )
    def refund_restock(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Order.Status.REFUNDED, restock=True)


class OrderInline(admin.TabularInline):
    model = Order
    fields = ("number", "shop", "status", "payment_status", "total")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    list_display = ("number", "buyer", "total", "currency", "created_at")
    list_select_related = ("buyer",)
    search_fields = ("number", "buyer__email")
    date_hierarchy = "created_at"
    inlines = [OrderInline]
    fields = (
        "number",
        "buyer",
        "currency",
        "subtotal",
        "discount_total",
        "shipping_total",
        "total",
        "idempotency_key",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
