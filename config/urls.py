from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.core.api.views import RedocView, SwaggerView
from apps.core.metrics import metrics_view

# The API: each app's `api/urls.py` included under `api/v1/`. No app's pattern matches another
# app's path (tests/core/test_urls.py), so the order only decides how many apps a request walks
# past; the catalog, whose public reads are the hottest paths, comes first.
API_PREFIX = "api/v1/"
API_APPS = (
    "catalog",
    "core",
    "users",
    "shops",
    "events",
    "media",
    "inventory",
    "discounts",
    "cart",
    "orders",
    "payments",
    "reviews",
    "notifications",
    "dashboard",
    "imports",
    "webhooks",
)


# The admin speaks for the store; "View site" opens the storefront, or is hidden without one.
admin.site.site_header = f"{settings.STORE_NAME} administration"
admin.site.site_title = f"{settings.STORE_NAME} admin"
admin.site.index_title = "Dashboard"
admin.site.site_url = settings.FRONTEND_URL or None

urlpatterns = [
    *(path(API_PREFIX, include(f"apps.{app}.api.urls")) for app in API_APPS),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics_view, name="metrics"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler500 = "apps.core.views.server_error"
handler404 = "apps.core.views.not_found"
handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
