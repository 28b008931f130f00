from uuid import UUID

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from apps.core.openapi import problem_responses
from apps.core.pagination import CursorPagination, PageNumberPagination
from apps.core.permissions import IsSeller
from apps.users.request_user import request_user
from apps.webhooks import selectors, services
from apps.webhooks.api.serializers import (
    DeliveryListQuery,
    DeliveryOutput,
    WebhookCreateInput,
    WebhookOutput,
    WebhookUpdateInput,
    WebhookWithSecretOutput,
)
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

TAGS = ["webhooks"]

CREATED_EXAMPLE = {
    "id": "0f5c2a1e-7d3b-4e8f-9a6c-2b1d4e5f6a7b",
    "url": "https://erp.example.com/hooks/marketplace",
    "description": "Orders into the ERP",
    "events": ["order.placed", "order.cancelled"],
    "scope": "shop",
    "shop": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "enabled": True,
    "disabled_reason": "",
    "disabled_at": None,
    "created_at": "2026-12-07T09:00:00Z",
    "updated_at": "2026-12-07T09:00:00Z",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "previous_secret_expires_at": None,
}


class CanManageWebhooks(IsSeller):
    message = "Only staff and sellers may manage webhooks. Open a shop first."


class WebhookPagination(PageNumberPagination):
    pass


class DeliveryPagination(CursorPagination):
    pass


ENDPOINT_ID = OpenApiParameter("endpoint_id", UUID, OpenApiParameter.PATH)
# Ping and retry each send a request to the integrator's server: their routes set this scope
# (an @action kwarg), so the two share one budget.
SEND_THROTTLE_SCOPE = "webhook_send"


class _SendThrottledViewSet(viewsets.GenericViewSet):
    """Counts a route that sets `throttle_scope` against that scope's budget too."""

    throttle_scope: str | None = None

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.throttle_scope:
            throttles = [*throttles, ScopedRateThrottle()]
        return throttles


class WebhookViewSet(mixins.ListModelMixin, _SendThrottledViewSet):
    """The webhook endpoints the caller may manage: CRUD, secret rotation and a test ping."""

    permission_classes = [CanManageWebhooks]
    serializer_class = WebhookOutput
    pagination_class = WebhookPagination
    lookup_url_kwarg = "endpoint_id"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookEndpoint.objects.none()
        return selectors.endpoints_visible(user=request_user(self.request))

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        description=(
            "Staff see every endpoint (platform and shops'); a seller sees their shop's. "
            "Newest first, paginated. Secrets are never listed."
        ),
        responses={200: WebhookOutput(many=True), **problem_responses(403)},
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_create",
        summary="Register a webhook endpoint",
        description=(
            "Staff register platform endpoints, which may receive every event type; a seller "
            "registers an endpoint of their shop, which receives that shop's events only. The "
            "URL must be https on a public address. The answer carries the signing `secret`, "
            "shown this once: deliveries are signed as the Standard Webhooks specification "
            "says (docs/webhooks.md)."
        ),
        request=WebhookCreateInput,
        responses={
            201: WebhookWithSecretOutput,
            **problem_responses(
                403,
                codes={
                    400: ["webhook.invalid_url", "webhook.event_not_available"],
                    422: ["webhook.too_many_endpoints"],
                },
            ),
        },
        examples=[OpenApiExample("Created", value=CREATED_EXAMPLE, response_only=True)],
    )
    def create(self, request: Request) -> Response:
        body = WebhookCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=request_user(request), **body.validated_data)
        return Response(WebhookWithSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_get",
        summary="Get a webhook endpoint",
        description="One endpoint the caller may manage; any other is 404.",
        parameters=[ENDPOINT_ID],
        responses={
            200: WebhookOutput,
            **problem_responses(403, codes={404: ["webhook.not_found"]}),
        },
    )
    def retrieve(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        return Response(WebhookOutput(endpoint).data)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_update",
        summary="Change a webhook endpoint",
        description=(
            "Change the URL, the event types, the description, or `enabled`. Enabling an "
            "endpoint that was disabled (by its owner, a 410 answer or a day of failures) "
            "starts deliveries again for new events and for retries still scheduled; those that "
            "came due while it was disabled ended `failed` and can be retried by hand."
        ),
        parameters=[ENDPOINT_ID],
        request=WebhookUpdateInput,
        responses={
            200: WebhookOutput,
            **problem_responses(
                403,
                codes={
                    400: ["webhook.invalid_url", "webhook.event_not_available"],
                    404: ["webhook.not_found"],
                },
            ),
        },
    )
    def partial_update(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        body = WebhookUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **body.validated_data)
        return Response(WebhookOutput(endpoint).data)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_delete",
        summary="Delete a webhook endpoint",
        description="Deletes the endpoint and its delivery history; nothing more is sent.",
        parameters=[ENDPOINT_ID],
        responses={204: None, **problem_responses(403, codes={404: ["webhook.not_found"]})},
    )
    def destroy(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_rotate_secret",
        summary="Rotate a webhook endpoint's signing secret",
        description=(
            "A new secret, shown this once. For the next 24 hours each delivery carries two "
            "signatures, one per secret, so the receiver can switch without losing any."
        ),
        parameters=[ENDPOINT_ID],
        request=None,
        responses={
            200: WebhookWithSecretOutput,
            **problem_responses(403, codes={404: ["webhook.not_found"]}),
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        endpoint = services.endpoint_rotate_secret(endpoint=endpoint)
        return Response(WebhookWithSecretOutput(endpoint).data)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_ping",
        summary="Send a test event to a webhook endpoint",
        description=(
            "Queues a signed `webhook.ping` event (`data: {endpoint_id}`) for the endpoint and "
            "answers 202 with its delivery; it is tried once, without retries. Follow it in "
            "the endpoint's deliveries."
        ),
        parameters=[ENDPOINT_ID],
        request=None,
        responses={
            202: DeliveryOutput,
            **problem_responses(
                403, codes={404: ["webhook.not_found"], 409: ["webhook.endpoint_disabled"]}
            ),
        },
    )
    @action(detail=True, methods=["post"], throttle_scope=SEND_THROTTLE_SCOPE)
    def ping(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        delivery = services.endpoint_ping(endpoint=endpoint)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(mixins.ListModelMixin, _SendThrottledViewSet):
    """An endpoint's deliveries (`webhooks/{endpoint_id}/deliveries`): list, retry one."""

    permission_classes = [CanManageWebhooks]
    serializer_class = DeliveryOutput
    pagination_class = DeliveryPagination
    lookup_url_kwarg = "delivery_id"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        endpoint = selectors.endpoint_get(
            user=request_user(self.request), endpoint_id=self.kwargs["endpoint_id"]
        )
        query = DeliveryListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.deliveries_of(endpoint=endpoint, status=query.validated_data.get("status"))

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_deliveries_list",
        summary="List a webhook endpoint's deliveries",
        description=(
            "Newest first, cursor pagination; `?status=pending|succeeded|failed`. A pending "
            "delivery shows when it is tried next; `last_status_code` and `last_error` tell "
            "how its last attempt went."
        ),
        parameters=[
            ENDPOINT_ID,
            OpenApiParameter("status", str, enum=WebhookDelivery.Status.values),
        ],
        responses={
            200: DeliveryOutput(many=True),
            **problem_responses(403, codes={404: ["webhook.not_found"]}),
        },
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        operation_id="webhooks_delivery_retry",
        summary="Send a webhook delivery again now",
        description=(
            "Queues an attempt now and answers 202 with the delivery. A failed or succeeded "
            "delivery gets one attempt (the same `webhook-id`); a pending one is tried now and "
            "keeps its retry schedule. 409 while it is already queued or being sent, or when "
            "the endpoint is disabled."
        ),
        parameters=[
            ENDPOINT_ID,
            OpenApiParameter("delivery_id", UUID, OpenApiParameter.PATH),
        ],
        request=None,
        responses={
            202: DeliveryOutput,
            **problem_responses(
                403,
                codes={
                    404: ["webhook.not_found", "webhook.delivery_not_found"],
                    409: ["webhook.endpoint_disabled", "webhook.delivery_in_progress"],
                },
            ),
        },
    )
    @action(detail=True, methods=["post"], throttle_scope=SEND_THROTTLE_SCOPE)
    def retry(self, request: Request, endpoint_id: UUID, delivery_id: UUID) -> Response:
        endpoint = selectors.endpoint_get(user=request_user(request), endpoint_id=endpoint_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = services.delivery_retry(delivery=delivery)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
