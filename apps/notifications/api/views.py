from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.openapi import problem_responses
from apps.core.pagination import CursorPagination
from apps.core.permissions import EmailVerified, IsAuthenticatedUser
from apps.notifications import services
from apps.notifications.api.serializers import (
    NotificationFeedQuery,
    NotificationOutput,
    PreferencesInput,
    PreferencesOutput,
    ReadAllOutput,
    StreamTicketOutput,
    UnreadCountOutput,
)
from apps.notifications.models import Notification, NotificationType
from apps.notifications.stream import TICKET_TTL_SECONDS, stream_ticket_issue


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's in-app notifications, their preferences and the ticket to their stream."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = NotificationOutput
    pagination_class = CursorPagination
    lookup_url_kwarg = "notification_id"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        query = NotificationFeedQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return services.notification_feed(user=self.request.user, **query.validated_data)

    @extend_schema(
        summary="List notifications",
        description=(
            "The caller's in-app notifications, newest first (cursor pagination); `?unread=true` "
            "and `?type=` filter."
        ),
        parameters=[
            OpenApiParameter("unread", bool, description="Only unread notifications"),
            OpenApiParameter("type", str, enum=NotificationType.values),
        ],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Count unread notifications",
        description="The number of the caller's unread in-app notifications (for a badge).",
        responses=UnreadCountOutput,
    )
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"count": services.notification_unread_count(user=request.user)})

    @extend_schema(
        summary="Mark a notification read",
        description=(
            "Mark one of the caller's notifications read; marking it again changes nothing."
        ),
        request=None,
        responses=NotificationOutput,
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, notification_id) -> Response:
        notification = services.notification_mark_read(
            user=request.user, notification_id=notification_id
        )
        return Response(NotificationOutput(notification).data)

    @extend_schema(
        summary="Mark every notification read",
        description="Mark all of the caller's unread notifications read; `updated` says how many.",
        request=None,
        responses=ReadAllOutput,
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"updated": services.notification_mark_all_read(user=request.user)})

    @extend_schema(
        summary="Get notification preferences",
        description=(
            "For every notification type, whether it is delivered in the app and by e-mail."
        ),
        responses=PreferencesOutput,
    )
    @action(detail=False, methods=["get"])
    def preferences(self, request: Request) -> Response:
        return Response({"preferences": services.preferences_list(user=request.user)})

    @extend_schema(
        summary="Change notification preferences",
        description=(
            "Switch channels (`in_app`, `email`) per notification type; types not named keep "
            "their setting."
        ),
        request=PreferencesInput,
        responses=PreferencesOutput,
    )
    @preferences.mapping.patch
    def preferences_update(self, request: Request) -> Response:
        body = PreferencesInput(data=request.data)
        body.is_valid(raise_exception=True)
        preferences = services.preferences_update(
            user=request.user, changes=body.validated_data["preferences"]
        )
        return Response({"preferences": preferences})

    @extend_schema(
        summary="Get a ticket for the notification stream",
        description=(
            "A short-lived, one-time ticket for `GET /notifications/stream?ticket=` (Server-Sent "
            "Events): a browser's EventSource cannot send an Authorization header."
        ),
        request=None,
        responses={
            201: StreamTicketOutput,
            **problem_responses(codes={503: ["notification.stream_unavailable"]}),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="stream-ticket",
        permission_classes=[IsAuthenticatedUser, EmailVerified],
    )
    def stream_ticket(self, request: Request) -> Response:
        ticket = stream_ticket_issue(user=request.user, token=request.auth)
        return Response(
            {
                "ticket": ticket,
                "expires_in": TICKET_TTL_SECONDS,
                "url": f"/api/v1/notifications/stream?ticket={ticket}",
            },
            status=201,
        )
