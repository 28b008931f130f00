from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.users.api import views

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("auth", views.AuthViewSet, basename="auth")
router.register("me/addresses", views.AddressViewSet, basename="me-address")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns: list = [
    path("me", views.MeApi.as_view(), name="me"),
    path("me/password", views.MePasswordApi.as_view(), name="me-password"),
    *router.urls,
]
