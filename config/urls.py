from importlib import import_module

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api.views import RedocView

# The API is mounted flat: each app's patterns sit at the top level under `api/v1/`, rather than
# an include() per app (or even one include for the API). Resolving a path walks the patterns in
# order, and every include costs a nested resolver, and one that does not match a Resolver404 as
# well: together about a seventh of a cached product read. The catalog comes first: its public
# reads are the hottest paths, and no app's pattern matches another app's path
# (tests/core/test_urls.py), so the order only decides how many patterns a request walks past.
API_PREFIX = "api/v1/"
API_APPS = (
    "catalog",
    "core",
    "users",
    "events",
    "media",
    "inventory",
    "discounts",
    "cart",
    "orders",
    "reviews",
    "notifications",
)
api_v1 = [
    pattern for app in API_APPS for pattern in import_module(f"apps.{app}.api.urls").urlpatterns
]


def mounted(prefix: str, patterns: list[URLPattern]) -> list[URLPattern]:
    """`patterns` (each made with `path()`) as top-level patterns under `prefix`: what
    `path(prefix, include(patterns))` routes, without the nested resolver."""
    return [path(f"{prefix}{p.pattern}", p.callback, p.default_args, p.name) for p in patterns]


urlpatterns = [
    *mounted(API_PREFIX, api_v1),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler500 = "apps.core.views.server_error"
handler404 = "apps.core.views.not_found"
handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
