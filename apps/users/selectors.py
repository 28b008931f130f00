"""Reads for accounts, sessions, addresses and API keys, scoped to what the caller may see."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet

from apps.users.models import Address, ApiKey, Session, User


def user_get_with_shop(*, user_id: Any) -> User:
    return User.objects.select_related("shop").get(pk=user_id)


def user_shop(user: Any) -> Any:
    """The user's shop (an `apps.shops` Shop) or None, without raising RelatedObjectDoesNotExist.

    Read through the reverse accessor of the shop's `owner`: shops sit above users, so this app
    never imports them (as the catalog reads stock through `variant.stock`)."""
    try:
        return user.shop
    except ObjectDoesNotExist:
        return None


def user_roles(user: Any) -> list[str]:
    roles = ["customer"]
    if user_shop(user) is not None:
        roles.append("seller")
    if user.is_staff:
        roles.append("staff")
    return roles


def session_is_live(*, user_id: Any, session_id: str | None) -> bool:
    """Whether the user is active and, given a session id, that session of theirs is not ended
    (one query)."""
    if session_id is None:
        return User.objects.filter(pk=user_id, is_active=True).exists()
    return Session.objects.filter(
        pk=session_id, user_id=user_id, user__is_active=True, ended_at=None
    ).exists()


def address_list(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "-created_at", "id")


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("-created_at", "id")
