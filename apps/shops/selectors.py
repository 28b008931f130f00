"""Reads of shops, scoped to what the caller may see."""

from typing import Any

from django.db.models import Q, QuerySet

from apps.core.slugs import id_first, id_or_slug
from apps.shops.errors import ShopNotFound
from apps.shops.models import Shop


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
