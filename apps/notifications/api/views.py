from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import CursorPagination
from apps.core.permissions import IsAuthenticatedUser
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


class NotificationListApi(generics.ListAPIView):
    permission_classes = [IsAuthenticatedUser]
    serializer_class = NotificationOutput
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        query = NotificationFeedQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return services.notification_feed(user=self.request.user, **query.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="Only unread notifications"),
            OpenApiParameter("type", str, enum=NotificationType.values),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class UnreadCountApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses=UnreadCountOutput)
    def get(self, request: Request) -> Response:
        return Response({"count": services.notification_unread_count(user=request.user)})


class NotificationReadApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses=NotificationOutput)
    def post(self, request: Request, notification_id) -> Response:
        notification = services.notification_mark_read(
            user=request.user, notification_id=notification_id
        )
        return Response(NotificationOutput(notification).data)


class NotificationReadAllApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses=ReadAllOutput)
    def post(self, request: Request) -> Response:
        return Response({"updated": services.notification_mark_all_read(user=request.user)})


class PreferencesApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses=PreferencesOutput)
    def get(self, request: Request) -> Response:
        return Response({"preferences": services.preferences_list(user=request.user)})

    @extend_schema(request=PreferencesInput, responses=PreferencesOutput)
    def patch(self, request: Request) -> Response:
        body = PreferencesInput(data=request.data)
        body.is_valid(raise_exception=True)
        preferences = services.preferences_update(
            user=request.user, changes=body.validated_data["preferences"]
        )
        return Response({"preferences": preferences})


class StreamTicketApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses={201: StreamTicketOutput})
    def post(self, request: Request) -> Response:
        ticket = stream_ticket_issue(user=request.user)
        return Response(
            {
                "ticket": ticket,
                "expires_in": TICKET_TTL_SECONDS,
                "url": f"/api/v1/notifications/stream?ticket={ticket}",
            },
            status=201,
        )
