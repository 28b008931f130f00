from django.urls import path

from apps.core.api import views

urlpatterns = [
    path("", views.ApiIndexApi.as_view(), name="api-index"),
    path("health", views.HealthApi.as_view(), name="health"),
    path("health/live", views.LiveApi.as_view(), name="health-live"),
]
