import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core.exceptions import problem, problem_json_response
from apps.core.request_context import request_id_var
from apps.core.views import api_not_found

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_logger = logging.getLogger("apps.core.access")


class RequestIdMiddleware:
    """Echo a safe incoming X-Request-Id or mint one; every log line of the request carries it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            # The path only: query strings may carry secrets (the SSE `?ticket=`).
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status_code": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = request_id
        return response


class NulCharacterMiddleware:
    """A NUL character in the path, the query string or a header is 400 `request.malformed`.

    No client has a use for one, and PostgreSQL refuses it in text: a path parameter, a filter
    or a header such as `X-Cart-Token` that reaches a query with one would be a 500. (JSON bodies
    are checked by their serializers: DRF's CharField refuses NUL.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if (
            "\x00" in request.path
            or "%00" in meta.get("QUERY_STRING", "")
            or any("\x00" in value for key, value in meta.items() if key.startswith("HTTP_"))
        ):
            return problem_json_response(
                problem(
                    status=400,
                    code="request.malformed",
                    title="Malformed request",
                    detail="The request has a NUL character in its path, query or headers.",
                )
            )
        return self.get_response(request)


class ApiNotFoundMiddleware:
    """Unknown /api/ routes answer problem+json 404 instead of Django's HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith(
                ("application/problem+json", "application/json")
            )
        ):
            return api_not_found(request)
        return response
