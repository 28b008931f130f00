"""Endpoints and deliveries for staff: request and response excerpts, retry and disable."""

import json

from django.contrib import admin, messages
from django.utils import timezone

from apps.webhooks import services
from apps.webhooks.errors import DeliveryInProgress, EndpointDisabled
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

REQUEST_EXCERPT_CHARS = 2000


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "shop", "enabled", "disabled_reason", "failing_since", "created_at")
    list_filter = ("enabled", "disabled_reason", ("shop", admin.EmptyFieldListFilter))
    search_fields = ("url", "description", "shop__name")
    list_select_related = ("shop",)
    # The secrets never show: their owner saw them once, through the API.
    fields = (
        "url",
        "description",
        "events",
        "shop",
        "created_by",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "url",
        "events",
        "shop",
        "created_by",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    actions = ["disable", "enable"]

    def has_add_permission(self, request) -> bool:
        return False  # owners register endpoints through the API, which shows the secret once

    @admin.action(description="Disable the selected endpoints", permissions=["change"])
    def disable(self, request, queryset) -> None:
        count = 0
        for endpoint in queryset.filter(enabled=True):
            services.endpoint_update(endpoint=endpoint, enabled=False)
            count += 1
        self.message_user(request, f"{count} endpoint(s) disabled.", messages.SUCCESS)

    @admin.action(description="Enable the selected endpoints", permissions=["change"])
    def enable(self, request, queryset) -> None:
        count = 0
        for endpoint in queryset.filter(enabled=False):
            services.endpoint_update(endpoint=endpoint, enabled=True)
            count += 1
        self.message_user(request, f"{count} endpoint(s) enabled.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "endpoint__url")
    list_select_related = ("endpoint",)
    fields = (
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "expires_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "request_excerpt",
        "last_response",
        "request_id",
        "created_at",
    )
    readonly_fields = fields
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Request body (excerpt)")
    def request_excerpt(self, delivery: WebhookDelivery) -> str:
        text = json.dumps(delivery.payload, indent=2, ensure_ascii=False)
        return text[:REQUEST_EXCERPT_CHARS]

    @admin.action(description="Send the selected deliveries again now", permissions=["change"])
    def retry(self, request, queryset) -> None:
        queued = skipped = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.delivery_retry(delivery=delivery)
            except (DeliveryInProgress, EndpointDisabled):
                skipped += 1
            else:
                queued += 1
        level = messages.SUCCESS if not skipped else messages.WARNING
        self.message_user(
            request,
            f"{queued} delivery(ies) queued at {timezone.now():%H:%M:%S}; {skipped} skipped "
            "(already queued or the endpoint is disabled).",
            level,
        )
