"""Roles: every user is a customer; a user with a shop is its seller; is_staff is staff."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


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
