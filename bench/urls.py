"""The API's urlconf plus the baseline: the cheapest JSON response Django can give through the
same middleware stack (`/bench/floor`, the B every figure is divided by), and the same response
from a DRF APIView (`/bench/floor-drf`), which shows what DRF's dispatch alone costs."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as api_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


class FloorDrf(APIView):
    permission_classes = [AllowAny]
    schema = None

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


urlpatterns = [
    path("bench/floor", floor),
    path("bench/floor-drf", FloorDrf.as_view()),
    *api_urlpatterns,
]
