"""Webhook rows made through the services (an endpoint is only ever what endpoint_create wrote)."""

import uuid

from django.utils import timezone

from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.shops.factories import ShopFactory

PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS needed


def endpoint_row(*, shop=None) -> WebhookEndpoint:
    shop = shop or ShopFactory()
    return services.endpoint_create(
        actor=shop.owner, url=PUBLIC_URL, events=["order.placed"], description="ERP"
    )


def delivery_row(*, endpoint=None, status=WebhookDelivery.Status.FAILED) -> WebhookDelivery:
    endpoint = endpoint or endpoint_row()
    event_id = uuid.uuid4()
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type="order.placed",
        payload={"event_id": str(event_id), "type": "order.placed", "data": {}},
        status=status,
        attempts=3,
        expires_at=timezone.now(),
        last_status_code=500,
        last_error="The receiver answered HTTP 500.",
        last_response='{"error": "down"}',
    )
