"""The admin's sign-in: a lockout after repeated wrong passwords (django-axes) and, when
ADMIN_REQUIRE_2FA says so, a TOTP code from a confirmed device (django-otp).

The API's login has throttles of its own (apps.users.login_failures); axes looks only at
`/admin/` requests (AXES_ONLY_ADMIN_SITE, and the handler below ignores the rest, so a failed API
login writes no axes rows)."""

from typing import Any, cast

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import reverse
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the API's throttles see it: REMOTE_ADDR, or the address
    NUM_PROXIES trusted proxies put into X-Forwarded-For (nginx in `make stack`). Without this the
    lockout would count every admin behind nginx as one address."""
    # get_ident reads request.META only, which a Django request has as well as a DRF one.
    return BaseThrottle().get_ident(cast(Any, request))


class AdminLockoutBackend(AxesStandaloneBackend):
    """axes' check before the password is: a locked-out (username, address) or address is
    refused even with the right password. Only `/admin/` sign-ins: authentication without a
    request (a script, a test client's login) or for another path (the API's login) is left to
    the next backend at once, without axes looking at the request."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None or not request.path.startswith(reverse("admin:index")):
            return None
        return super().authenticate(request, *args, **kwargs)


class AdminOnlyDatabaseHandler(AxesDatabaseHandler):
    """axes' database handler for `/admin/` requests only: failed API logins are the API
    throttles' business and cost no rows here."""

    def user_login_failed(self, sender: Any, credentials: dict, request: Any = None, **kwargs: Any):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_logged_out(sender, request, user, **kwargs)


class MarketplaceAdminSite(OTPAdminSite):
    """Django's admin site; with ADMIN_REQUIRE_2FA, django-otp's: the sign-in form asks for a
    code of a confirmed device, and a staff session that was not verified by one is treated as
    not staff (the login page again). Read per request, so tests and operators can switch it."""

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)  # OTPAdminSite's default name is "otpadmin": keep admin: URLs

    @property
    def login_form(self) -> Any:
        return OTPAdminAuthenticationForm if settings.ADMIN_REQUIRE_2FA else None

    @property
    def login_template(self) -> Any:
        return OTPAdminSite.login_template if settings.ADMIN_REQUIRE_2FA else None

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.ADMIN_REQUIRE_2FA:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)
