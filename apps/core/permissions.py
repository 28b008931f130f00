"""Roles: every user is a customer; a user with a shop is its seller; is_staff is staff."""

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from apps.core.errors import EmailUnverified


class IsAuthenticatedUser(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class IsStaff(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsSeller(BasePermission):
    """The caller owns a shop. Object access is scoped by the selectors (other shops are 404)."""

    message = "Only sellers may do this. Open a shop first."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or hasattr(user, "shop")))


class EmailVerified(BasePermission):
    """With REQUIRE_EMAIL_VERIFICATION, an account whose e-mail is not verified may browse and
    fill a cart but not do what costs others or the platform: place orders, review, comment,
    upload media, open notification streams. 403 `auth.email_unverified` on the view's writes;
    reads pass. Anonymous callers are left to the view's other permissions (401). Reads the user
    row authentication loaded: no query."""

    schema_problem = (403, EmailUnverified.code)  # documented by apps.core.openapi

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if request.method in SAFE_METHODS:
            return True
        if not (settings.REQUIRE_EMAIL_VERIFICATION and user and user.is_authenticated):
            return True
        if getattr(user, "email_verified_at", None) is None:
            raise EmailUnverified(
                "Verify your e-mail address first: open the link we sent you, or ask for a new "
                "one with POST /api/v1/auth/verify-email/resend."
            )
        return True
