"""Django's error handlers (config/urls.py handler400/403/404/500): problem+json under /api/."""

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found
from django.views.defaults import permission_denied as django_permission_denied
from django.views.defaults import server_error as django_server_error

from apps.core.exceptions import problem, problem_json_response, server_error_problem

logger = logging.getLogger("apps.core.errors")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def server_error(request: HttpRequest) -> HttpResponse:
    """Unexpected errors: a generic problem+json for the API; the traceback is logged, not sent."""
    if _is_api(request):
        request_id = getattr(request, "request_id", "-")
        response = problem_json_response(server_error_problem(request_id))
        response["X-Request-Id"] = request_id
        return response
    return django_server_error(request)


def api_not_found(request: HttpRequest) -> HttpResponse:
    """404 problem+json for a path no API route matches; when the path only differs from a
    route by a trailing slash, the detail names the right one."""
    path = request.path
    detail = f"No endpoint at {path}."
    bare = path.rstrip("/")
    if bare != path and is_valid_path(bare, getattr(request, "urlconf", None)):
        detail += f" Did you mean {bare}? API paths have no trailing slash."
    return problem_json_response(
        problem(status=404, code="not_found", title="Not found", detail=detail)
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            problem(
                status=400,
                code="request.malformed",
                title="Malformed request",
                detail="The request was rejected as malformed.",
            )
        )
    return django_bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            problem(
                status=403,
                code="permission_denied",
                title="Permission denied",
                detail="You do not have permission to perform this action.",
            )
        )
    return django_permission_denied(request, exception)
