from django.urls import path

from apps.core.api import views

urlpatterns = [
    path("health", views.HealthApi.as_view(), name="health"),
    path("health/live", views.LiveApi.as_view(), name="health-live"),
]
