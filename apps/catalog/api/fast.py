"""Cache hits of the public catalog reads, answered before DRF's dispatch.

`GET /products` and `GET /products/{id}` from anonymous storefronts are the hot reads. When the
answer is already cached (rendered bytes and ETag, see `apps.catalog.cache`) and the request is
one the DRF view would answer with exactly those bytes, `serve_cached` answers it: one Redis GET
of a version, the bytes from this process's memory, no serializer, no ORM. Everything else goes
to the DRF view unchanged, and the DRF view fills the caches.

The answer is the DRF view's, byte for byte and header for header (tests/catalog pins it):

- only GET without credentials (`Authorization`): a token, valid or not, is for DRF to judge;
- only an `Accept` DRF's negotiation would accept for JSON, and no `?format=`;
- the view's own throttles run as DRF runs them (all of them, each one counting the request);
  when one refuses, the DRF view answers the 429 itself (`FastPathThrottleMixin`), so the
  problem+json and `Retry-After` are the usual ones;
- ETag/304 and headers (`Allow`, `Cache-Control`) as the view sets them (`cached_response`).
"""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

Entry = dict[str, Any]
Lookup = Callable[..., Entry | None]

_JSON_ACCEPTS = frozenset({"*/*", "application/*", "application/json"})
_THROTTLED = "_catalog_throttle_wait"


def etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def cached_response(
    request: HttpRequest, entry: Entry, *, public: bool, allow: str | None = None
) -> HttpResponse:
    """200 with the entry's bytes, or 304 when `If-None-Match` names its ETag (`allow`: the
    view's Allow header, for an answer given outside DRF)."""
    headers = {
        "ETag": entry["etag"],
        "Cache-Control": "public, no-cache" if public else "private, no-cache",
    }
    if allow is not None:
        headers["Allow"] = allow
    if not public:
        headers["Vary"] = "Authorization"
    # META rather than request.headers: building the headers mapping costs more than the rest.
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), entry["etag"]):
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(entry["body"], content_type="application/json", headers=headers)


def _accepts_json(accept: str) -> bool:
    """True when DRF's content negotiation would pick its JSON renderer for this Accept header
    (the reverse need not hold: anything unusual is left to DRF)."""
    if not accept:
        return True
    return any(part.split(";", 1)[0].strip() in _JSON_ACCEPTS for part in accept.split(","))


def _anonymous_json_get(request: HttpRequest) -> bool:
    meta = request.META
    return (
        request.method == "GET"
        and not meta.get("HTTP_AUTHORIZATION")
        and _accepts_json(meta.get("HTTP_ACCEPT", ""))
        and not _format_override(meta.get("QUERY_STRING", ""), request)
    )


def _format_override(query_string: str, request: HttpRequest) -> bool:
    """`?format=` (DRF's URL_FORMAT_OVERRIDE) is for DRF's negotiation. The substring test spares
    parsing the query string on the hot path (a percent-encoded name is parsed to be sure)."""
    name = api_settings.URL_FORMAT_OVERRIDE
    if not name or (name not in query_string and "%" not in query_string):
        return False
    return name in request.GET


def _throttled(request: HttpRequest, view_class: type[APIView]) -> bool:
    """Run the view's throttles as `APIView.check_throttles` does, for an anonymous request;
    True (and the wait noted on the request for the DRF view) when one refuses."""
    throttle_classes = view_class.throttle_classes
    if not throttle_classes:
        return False
    drf_request = Request(request)  # no authenticators: the anonymous user, as DRF would find
    view = view_class()
    view.setup(request)
    view.request = drf_request
    durations = [
        throttle.wait()
        for throttle in (cls() for cls in throttle_classes)
        if not throttle.allow_request(drf_request, view)
    ]
    if not durations:
        return False
    setattr(request, _THROTTLED, max((d for d in durations if d is not None), default=None))
    return True


class FastPathThrottleMixin:
    """On an APIView behind `serve_cached`: a request the fast path already counted and found
    throttled is refused with DRF's 429 without being counted again."""

    def check_throttles(self, request: Request) -> None:
        if hasattr(request._request, _THROTTLED):
            self.throttled(request, getattr(request._request, _THROTTLED))  # type: ignore[attr-defined]
        super().check_throttles(request)  # type: ignore[misc]


@functools.cache
def _allow_header(view_class: type[APIView]) -> str:
    view = view_class()
    view.setup(HttpRequest())
    return str(view.default_response_headers["Allow"])


def serve_cached(view_class: type[APIView], lookup: Lookup) -> Callable[..., HttpResponse]:
    """The URL callback: `lookup(request, **kwargs)` returns a cached public entry or None; a hit
    is answered here, anything else by `view_class`."""
    drf_view = view_class.as_view()

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _anonymous_json_get(request):
            entry = lookup(request, *args, **kwargs)
            if entry is not None and not _throttled(request, view_class):
                # The ignore: a class is hashable, but mypy checks type[APIView] against
                # Hashable with the instance's __hash__ signature (a mypy limitation).
                allow = _allow_header(view_class)  # type: ignore[arg-type]
                return cached_response(request, entry, public=True, allow=allow)
        return drf_view(request, *args, **kwargs)

    # cls, initkwargs, csrf_exempt: the schema generator and the CSRF middleware see the API view.
    return functools.update_wrapper(view, drf_view)
