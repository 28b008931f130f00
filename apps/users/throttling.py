"""Password-reset throttles: the login rate, counted apart from login attempts."""

from typing import TYPE_CHECKING

from rest_framework.request import Request

from apps.core.throttling import LoginEmailThrottle, LoginIpThrottle

if TYPE_CHECKING:  # not at run time: DRF imports the throttles while it defines APIView
    from rest_framework.views import APIView


class PasswordResetIpThrottle(LoginIpThrottle):
    def get_cache_key(self, request: Request, view: "APIView") -> str:
        return self.cache_format % {"scope": "reset-ip", "ident": self.get_ident(request)}


class PasswordResetEmailThrottle(LoginEmailThrottle):
    """Stops one address being flooded with reset emails."""

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        key = super().get_cache_key(request, view)
        return None if key is None else key.replace("login-email", "reset-email", 1)
