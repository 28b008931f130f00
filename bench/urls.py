"""The API's urlconf plus the baseline: the cheapest JSON response Django can give through the
same middleware stack. Every other figure is reported as a ratio to it."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as api_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/floor", floor), *api_urlpatterns]
