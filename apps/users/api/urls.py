from django.urls import path

from apps.core.api.routers import ApiRouter
from apps.users.api import views

router = ApiRouter()
router.register("auth", views.AuthViewSet, basename="auth")
router.register("me/addresses", views.AddressViewSet, basename="me-address")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns: list = [
    path("me", views.MeApi.as_view(), name="me"),
    path("me/password", views.MePasswordApi.as_view(), name="me-password"),
    *router.urls,
]
