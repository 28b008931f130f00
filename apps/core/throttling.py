"""Throttles backed by the shared cache (Redis in production)."""

from typing import TYPE_CHECKING

from django.core.cache.backends.locmem import LocMemCache
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

if TYPE_CHECKING:  # DRF imports this module while it defines APIView (DEFAULT_THROTTLE_CLASSES)
    from rest_framework.views import APIView


class AnonBurstThrottle(AnonRateThrottle):
    scope = "anon"


class UserBurstThrottle(UserRateThrottle):
    """Authenticated callers only: anonymous ones are AnonBurstThrottle's (DRF's own
    UserRateThrottle would count them a second time by IP, two more cache round trips each)."""

    scope = "user"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class ApiKeyThrottle(SimpleRateThrottle):
    """Per API key; the key's own `rate` overrides the default."""

    scope = "api_key"

    def allow_request(self, request: Request, view: "APIView") -> bool:
        api_key = getattr(request, "api_key", None)  # DRF proxies the HttpRequest
        if api_key is None:
            return True
        if api_key.rate:
            self.rate = api_key.rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        api_key = getattr(request, "api_key", None)  # DRF proxies the HttpRequest
        return (
            None
            if api_key is None
            else self.cache_format % {"scope": self.scope, "ident": api_key.pk}
        )


class LoginIpThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request: Request, view: "APIView") -> str:
        return self.cache_format % {"scope": "login-ip", "ident": self.get_ident(request)}


class LoginEmailThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        data = getattr(request, "data", None)  # a JSON array body is a list: no email in it
        email = str(data.get("email", "")).strip().lower() if isinstance(data, dict) else ""
        if not email:
            return None
        return self.cache_format % {"scope": "login-email", "ident": email}


class HealthThrottle(SimpleRateThrottle):
    """GET /health per client address, counted in this process's memory: the report itself is
    kept in memory, and the throttle must not depend on the cache whose health it reports (nor
    cost more round trips to it than the answer)."""

    scope = "health"
    cache = LocMemCache("health-throttle", {"MAX_ENTRIES": 10_000})

    def get_cache_key(self, request: Request, view: "APIView") -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class DiscountCheckThrottle(UserRateThrottle):
    """Requests that tell whether a discount code exists or applies (GET /discounts/{code}/products,
    POST /discounts/validate, a checkout review naming codes): per user, per address when
    anonymous. Bounds how fast codes can be guessed."""

    scope = "discount_check"


class PostContentThrottle(UserRateThrottle):
    """Reviews and comments: at most N posts a minute per user."""

    scope = "post_content"
