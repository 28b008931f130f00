"""Views that exist only for the tests (mounted by tests/core/urls.py under /api/v1/test/)."""

import datetime
import logging
import secrets
import time
import uuid
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import Conflict, RuleViolation
from apps.core.idempotency import redact_when_stored
from apps.core.openapi import problem_responses
from apps.core.permissions import IsAuthenticatedUser, IsStaff
from apps.core.throttling import LoginEmailThrottle, LoginIpThrottle

logger = logging.getLogger("tests.core")


class BoomApi(APIView):
    def get(self, request):
        raise RuntimeError("kaboom: the database password is hunter2")


class DatabaseDownApi(APIView):
    """What a view sees while PostgreSQL restarts: the connection is refused."""

    def get(self, request):
        raise OperationalError("connection to server at 127.0.0.1 port 5432 failed: refused")


class LineInput(serializers.Serializer):
    variant_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1)


class AddressInput(serializers.Serializer):
    city = serializers.CharField()
    country = serializers.CharField(max_length=2)


class OrderInput(serializers.Serializer):
    items = LineInput(many=True, allow_empty=False)
    address = AddressInput()
    tags = serializers.ListField(child=serializers.IntegerField(), required=False)

    def validate(self, attrs):
        if attrs.get("tags") == [13]:
            raise serializers.ValidationError("unlucky")
        return attrs


class EchoApi(APIView):
    def post(self, request):
        body = OrderInput(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(body.validated_data)


class PrivateApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    def get(self, request):
        return Response({"user": request.user.pk})

    def post(self, request):
        return Response({"user": request.user.pk}, status=201)


class StaffApi(APIView):
    permission_classes = [IsStaff]

    def get(self, request):
        return Response({"ok": True})


class OutOfStock(RuleViolation):
    code = "test.out_of_stock"
    title = "Out of stock"


class RuleApi(APIView):
    def post(self, request):
        raise OutOfStock("Only 2 left.", available=2, status=200, code="overridden")


class MissingApi(APIView):
    def get(self, request):
        return Response({"id": get_object_or_404(Group, name="does-not-exist").pk})


class GroupExists(Conflict):
    code = "test.group_exists"
    title = "Group exists"


class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class GroupInput(serializers.Serializer):
    name = serializers.CharField(max_length=150)


class GroupCreateApi(APIView):
    """Creates a row: the effect the idempotency tests count. `?delay=` widens the race window."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=GroupInput,
        responses={
            201: GroupOutput,
            403: OpenApiResponse(description="`test.forbidden`"),
            **problem_responses(404, codes={409: ["test.group_exists"]}),
        },
    )
    def post(self, request):
        body = GroupInput(data=request.data)
        body.is_valid(raise_exception=True)
        time.sleep(float(request.query_params.get("delay", 0)))
        try:
            with transaction.atomic():
                group = Group.objects.create(name=body.validated_data["name"])
        except IntegrityError:
            raise GroupExists("That group exists.") from None
        response = Response({"id": group.pk, "name": group.name, "nonce": uuid.uuid4().hex}, 201)
        response["Location"] = f"/api/v1/test/groups/{group.pk}"
        return response


class SecretApi(APIView):
    """Shows a secret once, as POST /api-keys does; `?text=1` answers it as plain text."""

    permission_classes = [AllowAny]

    def post(self, request):
        secret = secrets.token_urlsafe(24)
        if request.query_params.get("text"):
            return redact_when_stored(
                HttpResponse(secret, status=201, content_type="text/plain"), "secret"
            )
        body = {"id": uuid.uuid4().hex, "secret": secret, "note": {"secret": "nested, kept"}}
        return redact_when_stored(Response(body, status=201), "secret", "absent")


class SlowApi(APIView):
    """Acts without the database (a waiter test needs no transactional test case)."""

    def post(self, request):
        time.sleep(float(request.query_params.get("delay", 0)))
        return Response({"nonce": uuid.uuid4().hex}, status=201)


class FlakyApi(APIView):
    """Fails with a 500 the first time, then creates the row."""

    def post(self, request):
        if cache.add("flaky-failed-once", True, timeout=60):
            raise RuntimeError("transient failure")
        group = Group.objects.create(name=request.data["name"])
        return Response({"id": group.pk}, status=201)


class UploadApi(APIView):
    parser_classes = (MultiPartParser,)

    def post(self, request):
        upload = request.FILES["file"]
        return Response({"size": upload.size, "first": upload.read(8).decode()}, status=201)


class ThrottledApi(APIView):
    """Default throttle classes (anon, user, api_key)."""

    def get(self, request):
        return Response({"ok": True})


class LoginThrottledApi(APIView):
    throttle_classes = [LoginIpThrottle, LoginEmailThrottle]

    def post(self, request):
        return Response({"ok": True})


class BigApi(APIView):
    def get(self, request):
        return Response({"items": [{"sku": f"SKU-{i}", "price": "19.99"} for i in range(200)]})


class RenderApi(APIView):
    def get(self, request):
        return Response(
            {
                "price": Decimal("19.90"),
                "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
                "at": datetime.datetime(2024, 5, 1, 12, 30, 15, tzinfo=datetime.UTC),
                "day": datetime.date(2024, 5, 1),
                "label": gettext_lazy("Not found"),
                "ttl": datetime.timedelta(minutes=2),
                "keys": {uuid.UUID(int=1): 1},
            }
        )


class LogApi(APIView):
    """Logs the kind of things that must never reach a log line in clear."""

    def post(self, request):
        logger.warning("headers=%s body=%s", dict(request.headers), request.data)
        logger.warning("query=%s", request.META.get("QUERY_STRING"))
        return Response({"ok": True})
