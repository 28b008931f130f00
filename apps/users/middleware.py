"""`X-Api-Key` identifies the client application on /api/v1/ requests."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core.exceptions import problem, problem_json_response
from apps.core.openapi import API_KEY_EXEMPT_PATHS

API_PREFIX = "/api/v1/"
# Liveness probes must work without a key (the orchestrator does not hold one) and without
# touching the database, and Stripe's webhook is called by Stripe, which holds none (its
# signature is its credential): no key handling at all, whatever headers come along. The schema
# documents these paths without the key's security scheme.
OPEN_PATHS = API_KEY_EXEMPT_PATHS
# Paths whose own credential stands in for the key: the notification stream is opened by a
# browser's EventSource, which cannot send headers, with a one-time ticket that a request
# carrying the key (POST notifications/stream-ticket) obtained. A key sent anyway is checked.
KEY_OPTIONAL_PATHS = frozenset({"/api/v1/notifications/stream"})


class ApiKeyMiddleware:
    """Sets `request.api_key` (read by ApiKeyThrottle) from a valid `X-Api-Key`.

    A presented key that is unknown, wrong or revoked is always a 401 `auth.invalid_api_key`;
    a missing key is a 401 only when `REQUIRE_API_KEY` is on and the path is not in
    KEY_OPTIONAL_PATHS. OPEN_PATHS and CORS preflights (OPTIONS; browsers cannot add the header
    to them) pass untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_key = None  # type: ignore[attr-defined]
        path = request.path
        if (
            not path.startswith(API_PREFIX)
            or request.method == "OPTIONS"
            or path.rstrip("/") in OPEN_PATHS
        ):
            return self.get_response(request)
        raw = request.headers.get("X-Api-Key", "").strip()
        if not raw:
            if settings.REQUIRE_API_KEY and path.rstrip("/") not in KEY_OPTIONAL_PATHS:
                return self._reject("This API needs an X-Api-Key header.")
            return self.get_response(request)

        from apps.users.services.api_keys import api_key_authenticate, api_key_touch

        key = api_key_authenticate(raw)
        if key is None:
            return self._reject("The X-Api-Key is unknown or revoked.")
        api_key_touch(key=key)
        request.api_key = key  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], *args: Any
    ) -> HttpResponse | None:
        """A scoped key (see `api_key_allows`) reaches only its areas: the app whose view serves
        the request, with read access for GET/HEAD and write for the rest; 403
        `auth.api_key_scope` otherwise. Views outside the areas (health, docs) are open."""
        key = getattr(request, "api_key", None)
        if key is None or not key.scopes:
            return None
        from apps.users.services.api_keys import api_key_allows, api_key_area

        module = getattr(view_func, "cls", getattr(view_func, "view_class", view_func)).__module__
        area = api_key_area(module)
        if area is None:
            return None
        write = request.method not in ("GET", "HEAD")
        if api_key_allows(key, area=area, write=write):
            return None
        access = "write" if write else "read"
        return problem_json_response(
            problem(
                status=403,
                code="auth.api_key_scope",
                title="Outside the API key's scopes",
                detail=f"This API key may not {access} {area} (scopes: {', '.join(key.scopes)}).",
                needed=f"{area}:{access}",
            )
        )

    @staticmethod
    def _reject(detail: str) -> HttpResponse:
        response = problem_json_response(
            problem(status=401, code="auth.invalid_api_key", title="Invalid API key", detail=detail)
        )
        response["WWW-Authenticate"] = 'ApiKey header="X-Api-Key"'
        return response
