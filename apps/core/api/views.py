from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import HealthOutput, LiveOutput
from apps.core.health import health_report


class _ProbeApi(APIView):
    """Probes answer load balancers and orchestrators: no credentials, no throttling."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class HealthApi(_ProbeApi):
    @extend_schema(
        tags=["operations"],
        operation_id="health",
        summary="Readiness: database, cache, broker and Kafka",
        description=(
            "Each check is `ok`, `error` or `skipped` (broker with eager tasks, Kafka when not "
            "configured). Checks run concurrently with a 2 s timeout."
        ),
        responses={
            200: OpenApiResponse(HealthOutput, description="Every configured dependency is up."),
            503: OpenApiResponse(HealthOutput, description="At least one check failed."),
        },
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        return Response(report, status=200 if report["status"] == "ok" else 503)


class LiveApi(_ProbeApi):
    @extend_schema(
        tags=["operations"],
        operation_id="health_live",
        summary="Liveness: the process answers (touches no dependency)",
        responses={200: LiveOutput},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class RedocView(SpectacularRedocView):
    """Redoc from drf-spectacular-sidecar, without the web fonts the stock page fetches."""

    template_name = "core/redoc.html"
