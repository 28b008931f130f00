from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api.views import RedocView

api_v1 = [
    path("", include("apps.core.api.urls")),
    path("", include("apps.users.api.urls")),
    path("", include("apps.events.api.urls")),
    path("", include("apps.media.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.inventory.api.urls")),
    path("", include("apps.discounts.api.urls")),
    path("", include("apps.cart.api.urls")),
    path("", include("apps.orders.api.urls")),
    path("", include("apps.reviews.api.urls")),
    path("", include("apps.notifications.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
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
