"""HTTP caching of the public catalog reads: `ETag` and `If-None-Match` (304), and the
`Cache-Control` that lets browsers revalidate and a shared cache in front (nginx in the production
stack, a CDN) keep an anonymous answer for a few seconds (docs/performance.md)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request

Entry = dict[str, Any]


def etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def public_cache_control() -> str:
    """Cache-Control of an answer that is the same for every anonymous caller: browsers
    revalidate every time (max-age=0, with the ETag); a shared cache (nginx in the production
    stack, a CDN) may serve it for CATALOG_SHARED_CACHE_SECONDS without asking, which bounds how
    long a write takes to show there."""
    seconds = settings.CATALOG_SHARED_CACHE_SECONDS
    return f"public, max-age=0, s-maxage={seconds}" if seconds > 0 else "public, no-cache"


def cached_response(request: HttpRequest | Request, entry: Entry, *, public: bool) -> HttpResponse:
    """200 with the entry's bytes, or 304 when `If-None-Match` names its ETag. Returned from a
    DRF view's handler, which adds the view's own headers (`Allow`, `Vary`) as for any answer."""
    headers = {
        "ETag": entry["etag"],
        "Cache-Control": public_cache_control() if public else "private, no-cache",
    }
    if not public:
        headers["Vary"] = "Authorization"
    if etag_matches(request.headers.get("If-None-Match", ""), entry["etag"]):
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(entry["body"], content_type="application/json", headers=headers)
