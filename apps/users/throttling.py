"""Throttles of the account endpoints: password reset (the login rate, counted apart from login
attempts), sign-up and the verification e-mail."""

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

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


class SignupIpThrottle(SimpleRateThrottle):
    """Sign-ups per client address (scope `signup`): each one costs an Argon2 hash."""

    scope = "signup"

    def get_cache_key(self, request: Request, view: "APIView") -> str:
        return self.cache_format % {"scope": "signup-ip", "ident": self.get_ident(request)}


class SignupGlobalThrottle(SimpleRateThrottle):
    """Sign-ups of all clients together (scope `signup_global`): a ceiling on the CPU that new
    accounts may take, whatever the number of addresses they come from."""

    scope = "signup_global"

    def get_cache_key(self, request: Request, view: "APIView") -> str:
        return self.cache_format % {"scope": "signup-global", "ident": "all"}


class SignupThrottle(BaseThrottle):
    """The per-address limit, then the global ceiling: a request the first refuses is not
    counted against the second, so one address hammering the endpoint cannot use up everyone's
    sign-ups."""

    def __init__(self) -> None:
        self.throttles: tuple[SimpleRateThrottle, ...] = (
            SignupIpThrottle(),
            SignupGlobalThrottle(),
        )
        self.refused_by: SimpleRateThrottle | None = None

    def allow_request(self, request: Request, view: "APIView") -> bool:
        for throttle in self.throttles:
            if not throttle.allow_request(request, view):
                self.refused_by = throttle
                return False
        return True

    def wait(self) -> float | None:
        return None if self.refused_by is None else self.refused_by.wait()


class EmailVerifyResendThrottle(SimpleRateThrottle):
    """Verification e-mails asked for again, per account (scope `email_verify_resend`)."""

    scope = "email_verify_resend"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": "verify-resend", "ident": request.user.pk}
