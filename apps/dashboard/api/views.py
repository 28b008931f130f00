from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import problem_responses
from apps.core.permissions import IsSeller
from apps.dashboard.api.serializers import DashboardOutput, DashboardQuery
from apps.dashboard.selectors import dashboard_get, dashboard_shop_id
from apps.users.request_user import request_user

EXAMPLE = {
    "currency": "USD",
    "today": {"date": "2026-12-07", "orders": 3, "revenue": "219.97"},
    "last_30_days": {
        "orders": 41,
        "revenue": "3120.40",
        "days": [
            {"date": "2026-11-08", "orders": 0, "revenue": "0.00"},
            {"date": "2026-12-07", "orders": 3, "revenue": "219.97"},
        ],
    },
    "waiting": [
        {
            "status": "pending",
            "next_step": "confirm",
            "count": 2,
            "oldest_at": "2026-12-06T09:12:00Z",
        },
        {
            "status": "confirmed",
            "next_step": "ship",
            "count": 1,
            "oldest_at": "2026-12-05T16:40:00Z",
        },
        {"status": "shipped", "next_step": "deliver", "count": 0, "oldest_at": None},
    ],
    "low_stock": {
        "count": 1,
        "variants": [
            {
                "variant_id": "6f1c2b9e-3f0a-4f7e-9a51-2b8d7c1e4a10",
                "sku": "NW-PHONE-BLK-128",
                "product_id": "0b7e5a52-8c1d-4a39-b5f2-9d3e6f1a2c44",
                "product_name": "Northwind Phone X",
                "on_hand": 4,
                "reserved": 1,
                "available": 3,
                "low_stock_threshold": 5,
            }
        ],
    },
    "reviews": [
        {
            "id": "a3d9f0c2-51b7-4e8a-9c6d-7f2e1b0a5c33",
            "product_id": "0b7e5a52-8c1d-4a39-b5f2-9d3e6f1a2c44",
            "product_name": "Northwind Phone X",
            "rating": 5,
            "title": "Great battery",
            "body": "Two days on one charge.",
            "created_at": "2026-12-07T08:30:00Z",
        }
    ],
}


class SellerDashboardApi(APIView):
    permission_classes = [IsSeller]

    @extend_schema(
        tags=["dashboard"],
        operation_id="seller_dashboard",
        summary="The shop's dashboard: sales per day, orders waiting, low stock, newest reviews",
        description=(
            "The figures of the caller's shop: today's orders and revenue, the last 30 days per "
            "day (cancelled and refunded orders left out), open orders by the step they wait "
            "for (pending → confirm, confirmed → ship, shipped → deliver) with the oldest one's "
            "time, variants at or below their low-stock threshold (the count and the 10 with "
            "the fewest available) and the 10 newest published reviews. Staff see the whole "
            "marketplace, or one shop with `?shop=<slug>`; a user without a shop gets 403."
        ),
        parameters=[DashboardQuery],
        responses={
            200: DashboardOutput,
            **problem_responses(403, codes={404: ["shop.not_found"]}),
        },
        examples=[OpenApiExample("A shop's dashboard", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = DashboardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop_id = dashboard_shop_id(
            user=request_user(request), shop_slug=query.validated_data.get("shop")
        )
        return Response(DashboardOutput(dashboard_get(shop_id=shop_id)).data)
