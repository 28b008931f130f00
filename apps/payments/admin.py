"""Staff views of payments: each checkout's payment with its provider id and refund history, the
webhook events received, the seller ledger and payouts. Nothing here edits a row: refunds and
retries go through the services (the same the API and the tasks use)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.errors import DomainError
from apps.payments.models import LedgerEntry, Payment, Payout, ProviderEvent, Refund
from apps.payments.refunds import (
    payment_flagged_refund,
    payment_refund_orders,
    refund_retry_now,
)
from apps.users.request_user import request_user


class NoAddDeleteAdmin(admin.ModelAdmin):
    """Rows come from the services only and are never deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoAddDeleteAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    fields = (
        "created_at",
        "order",
        "amount",
        "currency",
        "reason",
        "status",
        "provider_refund_id",
        "attempts",
        "last_error",
        "requested_by",
    )
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    ordering = ("created_at",)


@admin.register(Payment)
class PaymentAdmin(NoAddDeleteAdmin):
    """Every field is read-only; the change permission is what lets staff run the actions."""

    list_display = (
        "checkout",
        "provider",
        "intent_id",
        "status",
        "amount",
        "amount_received",
        "amount_refunded",
        "currency",
        "created_at",
    )
    list_filter = ("status", "provider", "created_at")
    list_select_related = ("checkout",)
    search_fields = ("checkout__number", "intent_id", "checkout__buyer__email")
    date_hierarchy = "created_at"
    inlines = [RefundInline]
    actions = ("refund_orders", "refund_flagged")
    fields = (
        "checkout",
        "provider",
        "intent_id",
        "status",
        "amount",
        "amount_received",
        "amount_refunded",
        "currency",
        "paid_at",
        "error_code",
        "last_error",
        "flagged_reason",
        "intent_attempt",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.action(
        description="Refund the paid orders of the selected payments", permissions=["change"]
    )
    def refund_orders(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = request_user(request)
        total, refused = 0, []
        for payment in queryset:
            done, failures = payment_refund_orders(payment_id=payment.pk, actor=actor)
            total += done
            refused += failures
        self.message_user(request, f"Refunded {total} order(s).", messages.SUCCESS)
        for failure in refused:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(
        description="Give back flagged payments in full and cancel their orders",
        permissions=["change"],
    )
    def refund_flagged(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = request_user(request)
        for payment in queryset.filter(status=Payment.Status.FLAGGED):
            try:
                outcome = payment_flagged_refund(payment_id=payment.pk, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{payment.checkout}: {exc.detail}", messages.ERROR)
                continue
            self.message_user(request, f"{payment.checkout}: refund {outcome}.", messages.SUCCESS)


@admin.register(Refund)
class RefundAdmin(NoAddDeleteAdmin):
    list_display = (
        "created_at",
        "payment",
        "order",
        "amount",
        "currency",
        "reason",
        "status",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("status", "reason", "created_at")
    list_select_related = ("payment", "order")
    search_fields = ("order__number", "payment__intent_id", "provider_refund_id")
    actions = ("retry_now",)

    @admin.action(description="Retry the selected pending refunds now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        pending = queryset.filter(status=Refund.Status.PENDING)
        outcomes = [refund_retry_now(refund_id=refund.pk) for refund in pending]
        self.message_user(
            request, f"Retried {len(outcomes)} refund(s): {', '.join(outcomes) or 'none'}."
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in Refund._meta.fields]


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "type", "event_id", "outcome", "payment")
    list_filter = ("provider", "type", "outcome")
    search_fields = ("event_id", "payment__intent_id")
    list_select_related = ("payment",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: entries are listed, never added, changed or deleted here."""

    list_display = (
        "created_at",
        "shop",
        "account",
        "kind",
        "amount",
        "currency",
        "order",
        "available_at",
    )
    list_filter = ("account", "kind", "shop")
    list_select_related = ("shop", "order")
    search_fields = ("posting", "order__number", "shop__slug")
    date_hierarchy = "created_at"


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    """Payouts are recorded through POST /payouts (the balance check and the ledger entries
    happen there); the admin lists them."""

    list_display = ("created_at", "shop", "amount", "currency", "reference", "created_by")
    list_filter = ("shop",)
    list_select_related = ("shop", "created_by")
    search_fields = ("reference", "shop__slug")
    date_hierarchy = "created_at"
