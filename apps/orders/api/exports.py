"""GET /seller/exports/orders.csv: a shop's orders as CSV, one row per order line, streamed
(the rows are written as they are read, never held in memory), for a bounded range of days."""

import csv
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from apps.core.openapi import problem_responses
from apps.core.permissions import IsSeller
from apps.orders import selectors
from apps.orders.resources import OrderExportResource
from apps.users.request_user import request_user

EXAMPLE_CSV = (
    "order,placed_at,status,payment_status,shop,buyer,currency,sku,product,quantity,unit_price,"
    "line_discount,line_total,order_subtotal,order_discount,shipping_fee,order_total,"
    "tracking_number\r\n"
    "NW-1042-1,2026-12-07T09:12:00+00:00,confirmed,unpaid,northwind-electronics,"
    "ada@example.com,USD,NW-PHONE-BLK-128,Northwind Phone X,1,499.00,0.00,499.00,499.00,0.00,"
    "5.00,504.00,\r\n"
)


class OrderExportQuery(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under another name (see __init__).
    to = serializers.DateField(required=False, help_text="Last day, inclusive (default today).")
    shop = serializers.CharField(
        required=False, max_length=140, help_text="Staff only: a shop slug or id."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField(
            required=False, help_text="First day, inclusive (default 29 days before `to`)."
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        last = attrs.get("to") or timezone.localdate()
        first = attrs.get("from") or last - timedelta(days=29)
        if first > last:
            raise serializers.ValidationError({"from": "Must not be after `to`."}, code="invalid")
        if (last - first).days >= settings.ORDER_EXPORT_MAX_DAYS:
            raise serializers.ValidationError(
                {"from": f"At most {settings.ORDER_EXPORT_MAX_DAYS} days at a time."},
                code="max_range",
            )
        return {**attrs, "from": first, "to": last}


class _Line:
    """What csv.writer writes to: hands each formatted line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


class SellerExportViewSet(viewsets.ViewSet):
    """The shop's data as files: `orders.csv`."""

    permission_classes = [IsSeller]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The CSV is streamed past the renderers; errors are problem+json whatever Accept says
        # (a client asking for text/csv must not get 406 instead of the CSV).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["seller orders"],
        operation_id="seller_orders_export",
        summary="The shop's orders as CSV, one row per order line",
        description=(
            "Orders of the caller's shop placed between `from` and `to` (dates, inclusive, UTC; "
            "default the last 30 days; at most ORDER_EXPORT_MAX_DAYS, 366, at a time), oldest "
            "first, one row per order line with its order's columns. Streamed. Staff export "
            "every shop, or one with `?shop=`."
        ),
        parameters=[OrderExportQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="CSV with a header row.",
                examples=[OpenApiExample("Two lines", value=EXAMPLE_CSV)],
            ),
            **problem_responses(403),
        },
    )
    @action(detail=False, methods=["get"], url_path="orders.csv", url_name="orders")
    def orders(self, request: Request) -> StreamingHttpResponse:
        query = OrderExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        first, last = query.validated_data["from"], query.validated_data["to"]
        user = request_user(request)
        orders = selectors.seller_orders(
            user=user, shop=query.validated_data.get("shop") if user.is_staff else None
        ).filter(
            created_at__gte=timezone.make_aware(datetime.combine(first, time.min)),
            created_at__lt=timezone.make_aware(
                datetime.combine(last + timedelta(days=1), time.min)
            ),
        )
        writer = csv.writer(_Line())
        lines: Iterator[str] = (writer.writerow(row) for row in OrderExportResource().rows(orders))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="orders-{first}-{last}.csv"'
        return response
