from rest_framework import serializers

from apps.webhooks.event_types import EVENT_TYPES
from apps.webhooks.models import WebhookDelivery

EVENTS_HELP = (
    "Event types to receive. A seller's endpoint may subscribe to the events about one shop "
    "(orders, stock, products, reviews, payouts) and receives its own shop's only; "
    "`payment.failed` and `payment.refunded` are for platform endpoints."
)


class WebhookEventsField(serializers.ListField):
    child = serializers.ChoiceField(choices=EVENT_TYPES)

    def __init__(self, **kwargs):
        super().__init__(
            allow_empty=False, min_length=1, max_length=len(EVENT_TYPES), help_text=EVENTS_HELP,
            **kwargs,
        )  # fmt: skip


class WebhookCreateInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000, help_text="https:// on a public address; redirects are not followed."
    )
    events = WebhookEventsField()
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class WebhookUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = WebhookEventsField(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(
        required=False, help_text="false stops deliveries; true enables it again."
    )


class WebhookOutput(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    scope = serializers.SerializerMethodField(
        help_text="`platform` (staff: every shop's events) or `shop` (one shop's events)."
    )
    shop = serializers.UUIDField(source="shop_id", allow_null=True)
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(
        help_text="Empty while enabled; `manual`, `gone` (the receiver answered 410) or "
        "`failing` (a day without a successful delivery)."
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_scope(self, endpoint) -> str:
        return "platform" if endpoint.shop_id is None else "shop"


class WebhookWithSecretOutput(WebhookOutput):
    secret = serializers.CharField(
        help_text="The signing secret (Standard Webhooks `whsec_…`). Shown only now."
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="After a rotation: until when the replaced secret also signs each delivery.",
    )


class DeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.UUIDField(help_text="The `webhook-id` header: dedupe on it.")
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeliveryListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
