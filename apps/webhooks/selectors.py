"""What a caller may see: staff every endpoint, a seller their own shop's (others are 404)."""

from uuid import UUID

from django.db.models import QuerySet

from apps.users.models import User
from apps.webhooks.errors import DeliveryNotFound, WebhookNotFound
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_visible(*, user: User) -> QuerySet[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.all()
    if user.is_staff:
        return endpoints
    return endpoints.filter(shop__owner=user)


def endpoint_get(*, user: User, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = endpoints_visible(user=user).select_related("shop").filter(pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


def deliveries_of(*, endpoint: WebhookEndpoint, status: str | None) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).defer("payload")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: UUID) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(endpoint=endpoint, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise DeliveryNotFound()
    return delivery
