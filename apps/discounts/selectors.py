"""Discount reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Count, F, Prefetch, Q, QuerySet

from apps.catalog.models import Category, Product
from apps.core.errors import field_error
from apps.core.slugs import id_first, id_or_slug
from apps.discounts import errors
from apps.discounts.models import Discount, DiscountRedemption
from apps.shops.errors import ShopNotFound
from apps.shops.models import Shop
from apps.users.models import User

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def discounts_with_targets(queryset: QuerySet[Discount] | None = None) -> QuerySet[Discount]:
    """Discounts with their product ids and category paths prefetched (two extra queries)."""
    queryset = queryset if queryset is not None else Discount.objects.all()
    return queryset.select_related("shop").prefetch_related(
        Prefetch("products", queryset=Product.objects.only("id")),
        Prefetch("categories", queryset=Category.objects.only("id", "path", "depth")),
    )


def _seller_scope(user: User) -> QuerySet[Discount]:
    """The codes `user` may manage: staff every shop's, a seller their own shop's (any other
    code is DiscountNotFound, as if it did not exist)."""
    if user.is_staff:
        return Discount.objects.all()
    return Discount.objects.filter(shop__owner=user)


def seller_discount_list(*, user: User, shop: str | None = None) -> QuerySet[Discount]:
    """The codes `user` manages, newest first; for staff `shop` (slug or id) narrows the list
    to one shop (a seller's list is their own shop's anyway)."""
    queryset = _seller_scope(user)
    if shop and user.is_staff:
        queryset = queryset.filter(id_or_slug(shop, prefix="shop__"))
    return discounts_with_targets(queryset).order_by("-created_at")


def seller_discount_get(*, user: User, discount_id: UUID) -> Discount:
    discount = seller_discount_list(user=user).filter(pk=discount_id).first()
    if discount is None:
        raise errors.DiscountNotFound("No such discount in your shop.")
    return discount


def seller_discount_shop(*, user: User, shop: str | None = None) -> Shop:
    """The shop a new code of `user` belongs to. A seller's codes always go to their own shop
    (`shop` is ignored: nobody creates codes for another seller's shop); staff name any shop by
    slug or id, and without `shop` fall back to a shop of their own. Raises DiscountInvalid
    (400, pointer `/shop`) when staff name no shop or an unknown one."""
    if shop and user.is_staff:
        found = Shop.objects.filter(id_or_slug(shop)).order_by(*id_first(shop)).first()
        if found is None:
            raise errors.DiscountInvalid(
                "No such shop.",
                errors=[field_error("/shop", "does_not_exist", "No such shop.")],
            )
        return found
    own = Shop.objects.filter(owner=user).first()
    if own is None:
        detail = "Name the shop the code is for (slug or id)."
        raise errors.DiscountInvalid(detail, errors=[field_error("/shop", "required", detail)])
    return own


def _current(now: datetime) -> Q:
    return (
        Q(is_active=True)
        & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        & (Q(max_uses__isnull=True) | Q(uses_count__lt=F("max_uses")))
    )


def shop_public_discount_list(*, shop: Shop, now: datetime) -> QuerySet[Discount]:
    """The shop's public codes that can be used right now."""
    return (
        Discount.objects.filter(shop=shop, is_public=True)
        .filter(_current(now))
        .order_by("ends_at", "-created_at")
    )


def discount_disclosed_to(discount: Discount, user: User | AnonymousUser, *, uses: int = 0) -> bool:
    """Whether `user` may learn that this code exists, whatever its state: a public code (shown
    by GET /shops/{slug}/discounts while current), the shop's seller, staff, and a buyer with
    `uses` (unreleased redemptions) of it. Anyone else must not be able to tell a private code
    from an unknown one (`discount.not_found`), or codes could be guessed and confirmed."""
    if discount.is_public or uses > 0:
        return True
    return user.is_authenticated and (user.is_staff or discount.shop.owner_id == user.pk)


def discount_get_listed(*, shop: Shop, code: str, user: User | AnonymousUser) -> Discount:
    """An active code of `shop` that `user` may see (see `discount_disclosed_to`); any other,
    and an unknown code, is the same DiscountNotFound."""
    discount = discounts_with_targets(
        Discount.objects.filter(shop=shop, code__iexact=code.strip(), is_active=True)
    ).first()
    if discount is None or not discount_disclosed_to(discount, user):
        raise errors.DiscountNotFound(f"The shop has no discount code {code}.", discount_code=code)
    return discount


def discount_products(*, discount: Discount) -> QuerySet[Product]:
    """Published products of the discount's shop that the code applies to."""
    products = Product.objects.filter(shop_id=discount.shop_id, status=Product.Status.PUBLISHED)
    if discount.applies_to == Discount.AppliesTo.PRODUCTS:
        products = products.filter(pk__in=[p.pk for p in discount.products.all()])
    elif discount.applies_to == Discount.AppliesTo.CATEGORIES:
        paths = [c.path for c in discount.categories.all()]
        condition = Q(pk__in=[])
        for path in paths:
            condition |= Q(category__path__startswith=path)
        products = products.filter(condition)
    return products.order_by("name", "id")


def user_discount_usage(*, user: User, discount_ids: Sequence[UUID]) -> Mapping[UUID, int]:
    """How many unreleased redemptions `user` has per discount (one query)."""
    if not discount_ids or not user.is_authenticated:
        return {}
    rows = (
        DiscountRedemption.objects.filter(
            user=user, discount_id__in=discount_ids, released_at__isnull=True
        )
        .values("discount_id")
        .annotate(n=Count("id"))
    )
    return {row["discount_id"]: row["n"] for row in rows}


def shop_get_active(slug_or_id: str) -> Shop:
    """An active shop by slug or id; anything else is ShopNotFound (404)."""
    shop = (
        Shop.objects.filter(id_or_slug(slug_or_id), status=Shop.Status.ACTIVE)
        .order_by(*id_first(slug_or_id))
        .first()
    )
    if shop is None:
        raise ShopNotFound("No such shop.")
    return shop
