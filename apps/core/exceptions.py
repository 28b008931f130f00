"""One exception handler: every error becomes RFC 9457 application/problem+json."""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.errors import DomainError, FieldError, InvalidInput, field_error
from apps.core.request_context import request_id_var

logger = logging.getLogger("apps.core.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://errors.marketplace.dev/"
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "code"})


class PayloadTooLarge(drf.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request.too_large"


_DRF_CODES = {
    PayloadTooLarge: ("request.too_large", "Payload too large"),
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
    """An RFC 9457 body. Extra members never override the standard ones."""
    body: dict[str, Any] = dict(extra)
    body.update(
        {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    )
    return body


def server_error_problem(request_id: str) -> dict[str, Any]:
    """The generic body of every unexpected error: nothing about the failure leaks out."""
    return problem(
        status=500,
        code="server_error",
        title="Internal server error",
        detail="An unexpected error occurred. Quote the request id when reporting it.",
        request_id=request_id,
    )


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


def flatten_validation_errors(detail: Any, path: list[str] | None = None) -> list[FieldError]:
    """Turn DRF's nested error dict/list into a flat list of JSON-pointer errors."""
    path = path or []
    out: list[FieldError] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = path if key in ("non_field_errors", "__all__") else [*path, str(key)]
            out.extend(flatten_validation_errors(value, sub))
    elif isinstance(detail, list):
        if all(isinstance(item, drf.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append(field_error(_pointer(path), getattr(item, "code", "invalid"), str(item)))
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_validation_errors(item, [*path, str(index)]))
    else:
        out.append(field_error(_pointer(path), getattr(detail, "code", "invalid"), str(detail)))
    return out


def _auth_detail(exc: drf.APIException) -> str:
    # simplejwt puts a dict ({detail, code, messages}) in `detail`; only its sentence is shown.
    if isinstance(exc.detail, dict):
        return str(exc.detail.get("detail", "Authentication failed."))
    return str(exc.detail)


# simplejwt failure codes that get a stable code (and title) of their own; the others stay
# `auth.authentication_failed`.
_SIMPLEJWT_AUTH_CODES = {
    "token_revoked": ("auth.token_revoked", "Token revoked"),  # apps.core.authentication
}


def _auth_code(exc: drf.APIException, default: tuple[str, str]) -> tuple[str, str]:
    """(code, title) of a 401. A DRF AuthenticationFailed(..., code="auth.x") keeps its code.
    simplejwt's exceptions carry their code as a value in the detail dict (`get_codes()` only
    sees the class default there), and those in _SIMPLEJWT_AUTH_CODES get theirs."""
    if isinstance(exc.detail, dict):
        return _SIMPLEJWT_AUTH_CODES.get(str(exc.detail.get("code", "")), default)
    codes = exc.get_codes()
    if isinstance(codes, str) and codes.startswith("auth."):
        return codes, default[1]
    return default


def _as_drf(exc: Exception) -> Exception:
    """Django's own exceptions as their DRF equivalents."""
    if isinstance(exc, Http404):
        return drf.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return drf.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):
        return drf.ParseError("The request was rejected as malformed.")
    return exc


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: domain errors, DRF and Django exceptions and bugs, all as
    problem+json. The database transaction of the request, if any, is marked for rollback."""
    set_rollback()
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        extra: dict[str, Any] = {k: v for k, v in exc.extra.items() if k not in RESERVED_MEMBERS}
        if isinstance(exc, InvalidInput):
            extra["errors"] = exc.errors
        if exc.status == 429 and "retry_after" in extra:  # a domain rate limit, like Throttled
            headers["Retry-After"] = str(extra["retry_after"])
        return problem_response(
            problem(status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **extra),
            headers=headers,
        )

    if isinstance(exc, OperationalError | InterfaceError):
        return _database_unavailable(exc, context)
    exc = _as_drf(exc)
    if not isinstance(exc, drf.APIException):
        return _unexpected(exc, context)

    code, title = next(
        ((c, t) for cls, (c, t) in _DRF_CODES.items() if isinstance(exc, cls)),
        (exc.default_code, "Error"),
    )
    status = exc.status_code
    extra = {}
    if isinstance(exc, drf.ValidationError):
        extra["errors"] = flatten_validation_errors(exc.detail)
        detail = (
            "; ".join(f"{e['pointer'] or '/'}: {e['detail']}" for e in extra["errors"][:5])
            or "Invalid input."
        )
    elif isinstance(exc, drf.Throttled):
        wait = max(math.ceil(exc.wait or 1), 1)  # type: ignore[attr-defined]  # set by Throttled.__init__; not in drf-stubs
        headers["Retry-After"] = str(wait)
        detail = f"Request was throttled. Retry in {wait} seconds."
        extra["retry_after"] = wait
    elif isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
        # DRF turns these into 403 when the view has no authenticator; we always say 401.
        status = 401
        code, title = _auth_code(exc, (code, title))
        detail = _auth_detail(exc)
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Bearer realm="api"'
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else title
    body = problem(status=status, code=code, title=title, detail=detail, **extra)
    return problem_response(body, headers=headers)


def _database_unavailable(exc: Exception, context: dict[str, Any]) -> Response:
    """The database refused or lost the connection (a restart, a failover, a deadlock victim):
    not a bug, and the same request is likely to succeed in a moment. Logged as a warning."""
    request = context.get("request")
    logger.warning(
        "database unavailable in %s %s: %s",
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        exc,
    )
    body = problem(
        status=503,
        code="service.database_unavailable",
        title="Service unavailable",
        detail="The database is unavailable for a moment. Retry the request.",
        retry_after=1,
    )
    return problem_response(body, headers={"Retry-After": "1"})


def _unexpected(exc: Exception, context: dict[str, Any]) -> Response:
    """A bug: the traceback goes to the log with the request id; the client gets a generic body."""
    request = context.get("request")
    request_id = getattr(request, "request_id", None) or request_id_var.get()
    logger.error(
        "Unhandled %s in %s %s",
        type(exc).__name__,
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return problem_response(server_error_problem(request_id))
