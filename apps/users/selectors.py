"""Reads for accounts, shops and API keys, scoped to what the caller may see."""

from typing import Any

from django.db.models import Q, QuerySet

from apps.core.slugs import id_first, id_or_slug
from apps.users.errors import ShopNotFound
from apps.users.models import Address, ApiKey, Shop, User


def user_get_with_shop(*, user_id: Any) -> User:
    return User.objects.select_related("shop").get(pk=user_id)


def user_shop(user: Any) -> Shop | None:
    """The user's shop or None, without raising RelatedObjectDoesNotExist."""
    try:
        return user.shop
    except Shop.DoesNotExist:
        return None


def user_roles(user: Any) -> list[str]:
    roles = ["customer"]
    if user_shop(user) is not None:
        roles.append("seller")
    if user.is_staff:
        roles.append("staff")
    return roles


def address_list(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "-created_at", "id")


def shop_list(*, search: str = "") -> QuerySet[Shop]:
    shops = Shop.objects.filter(status=Shop.Status.ACTIVE).select_related("logo")
    if search:
        shops = shops.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return shops.order_by("name", "id")


def shop_get_visible(*, ident: str, user: Any = None) -> Shop:
    """A shop by slug or id: active ones for everyone, suspended ones to their seller and staff.

    A text that parses as a UUID names the shop with that id, else one whose slug it is (new
    slugs never look like ids, older ones may)."""
    shop = (
        Shop.objects.select_related("logo")
        .filter(id_or_slug(ident))
        .order_by(*id_first(ident))
        .first()
    )
    if shop is None:
        raise ShopNotFound()
    if shop.status != Shop.Status.ACTIVE:
        is_authenticated = bool(user and user.is_authenticated)
        if not (is_authenticated and (user.is_staff or shop.owner_id == user.pk)):
            raise ShopNotFound()
    return shop


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("-created_at", "id")
