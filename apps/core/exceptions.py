"""One exception handler: every error becomes RFC 9457 application/problem+json."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from apps.core.errors import DomainError, InvalidInput

logger = logging.getLogger("apps.core.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://errors.marketplace.dev/"

_DRF_CODES = {
    drf.ParseError: ("request.malformed", "Malformed request"),
    drf.AuthenticationFailed: ("auth.authentication_failed", "Authentication failed"),
    drf.NotAuthenticated: ("auth.not_authenticated", "Authentication required"),
    drf.PermissionDenied: ("permission_denied", "Permission denied"),
    drf.NotFound: ("not_found", "Not found"),
    drf.MethodNotAllowed: ("request.method_not_allowed", "Method not allowed"),
    drf.NotAcceptable: ("request.not_acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: ("request.unsupported_media_type", "Unsupported media type"),
    drf.Throttled: ("throttled", "Too many requests"),
    drf.ValidationError: ("invalid", "Invalid input"),
}


def problem(*, status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_json_response(body: dict[str, Any]) -> JsonResponse:
    """For plain Django views and middleware (no DRF renderer available)."""
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


def _pointer(path: list[str]) -> str:
    return (
        "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else ""
    )


def flatten_validation_errors(detail: Any, path: list[str] | None = None) -> list[dict[str, str]]:
    """Turn DRF's nested error dict/list into a flat list of JSON-pointer errors."""
    path = path or []
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = path if key in ("non_field_errors", "__all__") else [*path, str(key)]
            out.extend(flatten_validation_errors(value, sub))
    elif isinstance(detail, list):
        if all(isinstance(item, drf.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append(
                    {
                        "pointer": _pointer(path),
                        "code": getattr(item, "code", "invalid"),
                        "detail": str(item),
                    }
                )
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_validation_errors(item, [*path, str(index)]))
    else:
        out.append(
            {
                "pointer": _pointer(path),
                "code": getattr(detail, "code", "invalid"),
                "detail": str(detail),
            }
        )
    return out


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput):
        body = problem(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            **exc.extra,
        )
        return problem_response(body)
    if isinstance(exc, DomainError):
        body = problem(
            status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
        )
        return problem_response(body)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    if not isinstance(exc, drf.APIException):
        return None  # a bug: Django's 500 handler answers with a generic problem+json

    code, title = next(
        ((c, t) for cls, (c, t) in _DRF_CODES.items() if isinstance(exc, cls)),
        (exc.default_code, "Error"),
    )
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        extra["errors"] = flatten_validation_errors(exc.detail)
        detail = (
            "; ".join(f"{e['pointer'] or '/'}: {e['detail']}" for e in extra["errors"][:5])
            or "Invalid input."
        )
    elif isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(max(wait, 1))
        detail = f"Request was throttled. Retry in {max(wait, 1)} seconds."
        extra["retry_after"] = max(wait, 1)
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else title
        if isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
            auth_code = getattr(exc, "get_codes", lambda: None)()
            if isinstance(auth_code, str) and auth_code.startswith("auth."):
                code = auth_code
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
    status = exc.status_code
    if isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
        status = 401
    body = problem(status=status, code=code, title=title, detail=detail, **extra)
    return problem_response(body, headers=headers)
