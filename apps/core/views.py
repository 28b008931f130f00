import logging

from django.http import HttpRequest, HttpResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as django_server_error

from apps.core.exceptions import problem, problem_json_response

logger = logging.getLogger("apps.core.errors")


def server_error(request: HttpRequest) -> HttpResponse:
    """Unexpected errors: a generic problem+json for the API; the traceback is logged, not sent."""
    if request.path.startswith("/api/"):
        request_id = getattr(request, "request_id", "-")
        response = problem_json_response(
            problem(
                status=500,
                code="server_error",
                title="Internal server error",
                detail="An unexpected error occurred. Quote the request id when reporting it.",
                request_id=request_id,
            )
        )
        response["X-Request-Id"] = request_id
        return response
    return django_server_error(request)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_json_response(
            problem(
                status=404,
                code="not_found",
                title="Not found",
                detail=f"No endpoint at {request.path}.",
            )
        )
    return page_not_found(request, exception)
