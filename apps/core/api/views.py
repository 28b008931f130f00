import functools
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import ApiIndexOutput, HealthOutput, LiveOutput
from apps.core.health import health_report_recent
from apps.core.throttling import HealthThrottle


class _ProbeApi(APIView):
    """Probes answer load balancers and orchestrators: no credentials."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class HealthApi(_ProbeApi):
    throttle_classes = [HealthThrottle]

    @extend_schema(
        tags=["operations"],
        operation_id="health",
        summary="Readiness: database, cache, broker and Kafka",
        description=(
            "Each check is `ok`, `error` or `skipped` (broker with eager tasks, Kafka when not "
            "configured). Checks run concurrently with a 2 s timeout; a report is reused for "
            "`HEALTH_CACHE_SECONDS` (2 s) by the process that made it. Throttled per client "
            "address (`THROTTLE_HEALTH`, 60/min per process)."
        ),
        responses={
            200: OpenApiResponse(HealthOutput, description="Every configured dependency is up."),
            503: OpenApiResponse(HealthOutput, description="At least one check failed."),
        },
    )
    def get(self, request: Request) -> Response:
        report = health_report_recent()
        return Response(report, status=200 if report["status"] == "ok" else 503)


class LiveApi(_ProbeApi):
    """Not throttled: it touches nothing, so answering is cheaper than counting."""

    @extend_schema(
        tags=["operations"],
        operation_id="health_live",
        summary="Liveness: the process answers (touches no dependency)",
        responses={200: LiveOutput},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


API_PREFIX = "api/v1/"


@functools.cache
def top_level_resources(urlconf: str) -> tuple[str, ...]:
    """The API's routes of one segment without parameters (`products`, `cart`, `orders`...),
    read from the URLconf, so a new app's resources are listed without being named here."""
    routes = {
        str(pattern.pattern)
        for included in get_resolver(urlconf).url_patterns
        if isinstance(included, URLResolver) and str(included.pattern) == API_PREFIX
        for pattern in included.url_patterns
        if isinstance(pattern, URLPattern)
    }
    return tuple(sorted(r for r in routes if r and "/" not in r and "<" not in r))


class ApiIndexApi(APIView):
    """GET /api/v1/: where to start."""

    permission_classes = [AllowAny]

    @extend_schema(
        tags=["operations"],
        operation_id="api_index",
        summary="API index: links to the docs, the schema and the top-level resources",
        description=(
            "A starting point for people and crawlers: the Swagger UI, Redoc and OpenAPI "
            "schema URLs, and the URL of each top-level resource. Paths have no trailing slash."
        ),
        responses={200: ApiIndexOutput},
    )
    def get(self, request: Request) -> Response:
        urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
        return Response(
            {
                "name": spectacular_settings.TITLE,
                "version": spectacular_settings.VERSION,
                "docs": request.build_absolute_uri(reverse("swagger-ui")),
                "redoc": request.build_absolute_uri(reverse("redoc")),
                "schema": request.build_absolute_uri(reverse("schema")),
                "resources": {
                    route: request.build_absolute_uri(f"/{API_PREFIX}{route}")
                    for route in top_level_resources(urlconf)
                },
            }
        )


# The docs pages load everything from this server (drf-spectacular-sidecar's static files and
# the schema); the policy makes the browser refuse anything else. Redoc's bundle renders a
# Redocly logo from a CDN with no option to turn it off: the browser now skips it (Redoc hides
# the image when it fails to load). Inline scripts are the pages' own bootstrap code.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)


class _LocalOnlyDocsMixin:
    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_LocalOnlyDocsMixin, SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar; the browser fetches nothing from elsewhere."""


class RedocView(_LocalOnlyDocsMixin, SpectacularRedocView):
    """Redoc from drf-spectacular-sidecar, without the web fonts the stock page fetches and
    with the browser fetching nothing from elsewhere."""

    template_name = "core/redoc.html"
