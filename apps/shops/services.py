"""Writes for shops and follows."""

import secrets
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from apps import events
from apps.core.errors import InvalidInput, field_error
from apps.core.slugs import first_free_slug, suffixed_slug
from apps.media.models import MediaAsset
from apps.shops.errors import NotShopOwner, SelfFollow, ShopAlreadyExists
from apps.shops.models import Shop, ShopFollow
from apps.users.models import User


def unique_shop_slug(name: str) -> str:
    """A free slug from the name (`corner-store`, `corner-store-2`…) that never reads as an id:
    shop paths take a UUID-looking text for an id (apps.core.slugs)."""
    base = slugify(name)[:120] or "shop"
    taken = set(Shop.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    return first_free_slug(base, taken)


def _check_logo(*, logo_id: Any, allowed_owner_ids: set[Any]) -> MediaAsset | None:
    if logo_id is None:
        return None
    asset = (
        MediaAsset.objects.filter(pk=logo_id, owner_id__in=allowed_owner_ids)
        .exclude(status=MediaAsset.Status.FAILED)
        .first()
    )
    if asset is None:
        raise InvalidInput(
            "Unknown logo.",
            errors=[
                field_error(
                    "/logo_id", "does_not_exist", "No usable media asset of yours has this id."
                )
            ],
        )
    return asset


def shop_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    shipping_fee: Decimal = Decimal("0.00"),
    free_shipping_threshold: Decimal | None = None,
) -> Shop:
    """Open the owner's one shop; its slug comes from the name and is unique.

    Raises ShopAlreadyExists when the owner has one (also under a concurrent create).
    """
    if Shop.objects.filter(owner=owner).exists():
        raise ShopAlreadyExists()
    base = slugify(name)[:120] or "shop"
    for attempt in range(3):
        slug = (
            unique_shop_slug(name)
            if attempt == 0
            else suffixed_slug(base, lambda: secrets.token_hex(3))
        )
        try:
            with transaction.atomic():
                shop = Shop.objects.create(
                    owner=owner,
                    name=name,
                    slug=slug,
                    description=description,
                    shipping_fee=shipping_fee,
                    free_shipping_threshold=free_shipping_threshold,
                )
        except IntegrityError as exc:
            if Shop.objects.filter(owner=owner).exists():
                raise ShopAlreadyExists() from exc
            continue  # the slug was taken concurrently; try a random suffix
        owner.shop = shop  # replaces a cached "no shop" on the caller's instance
        return shop
    raise ShopAlreadyExists("Could not allocate a shop address; try another name.")


_SHOP_EDITABLE = ("name", "description", "shipping_fee", "free_shipping_threshold")


def shop_update(*, shop: Shop, actor: User, data: dict[str, Any]) -> Shop:
    """Edit a shop's public fields; only its seller or staff. The slug never changes."""
    if not (actor.is_staff or shop.owner_id == actor.pk):
        raise NotShopOwner()
    fields = [field for field in _SHOP_EDITABLE if field in data]
    for field in fields:
        setattr(shop, field, data[field])
    if "logo_id" in data:
        shop.logo = _check_logo(
            logo_id=data["logo_id"], allowed_owner_ids={actor.pk, shop.owner_id}
        )
        fields.append("logo")
    if fields:
        with transaction.atomic():
            shop.save(update_fields=[*fields, "updated_at"])
            events.emit(
                "shop.updated", shop.pk, {"shop_id": str(shop.pk), "fields": sorted(fields)}
            )
    return shop


def shop_status_set(*, shop: Shop, status: str) -> bool:
    """Suspend or reactivate a shop (staff). When the status changes, emits `shop.updated` in the
    same transaction, so the catalog drops the shop's cached products and list pages (a suspended
    shop's products leave the storefront at once). Returns whether the status changed."""
    if status not in Shop.Status.values:
        raise ValueError(f"unknown shop status {status!r}")
    with transaction.atomic():
        changed = (
            Shop.objects.filter(pk=shop.pk)
            .exclude(status=status)
            .update(status=status, updated_at=timezone.now())
        )
        if changed:
            events.emit("shop.updated", shop.pk, {"shop_id": str(shop.pk), "fields": ["status"]})
    shop.status = status
    return bool(changed)


def shop_commission_rate_set(*, shop: Shop, rate: Decimal | None) -> None:
    """Staff only (the admin): the platform's share of the shop's delivered orders, 0..1; None
    goes back to PLATFORM_COMMISSION_RATE. Applies to orders delivered from now on (ledger
    entries already written keep their commission)."""
    if rate is not None and not (0 <= rate <= 1):
        raise ValueError("a commission rate is between 0 and 1")
    Shop.objects.filter(pk=shop.pk).update(commission_rate=rate, updated_at=timezone.now())
    shop.commission_rate = rate


def shop_follow(*, shop: Shop, user: User) -> bool:
    """Follow a shop (idempotent). Returns True when a new follow was created.

    The follower count moves in the same transaction as the follow row, and a `shop.followed`
    event is written only for a new follow.
    """
    if shop.owner_id == user.pk:
        raise SelfFollow()
    with transaction.atomic():
        try:
            with transaction.atomic():
                ShopFollow.objects.create(shop=shop, user=user)
        except IntegrityError:
            return False
        Shop.objects.filter(pk=shop.pk).update(follower_count=F("follower_count") + 1)
        events.emit(
            "shop.followed",
            shop.pk,
            {"shop_id": str(shop.pk), "user_id": str(user.pk), "seller_id": str(shop.owner_id)},
        )
    return True


def shop_unfollow(*, shop: Shop, user: User) -> bool:
    """Stop following (idempotent). Returns True when a follow was removed."""
    with transaction.atomic():
        deleted, _ = ShopFollow.objects.filter(shop=shop, user=user).delete()
        if deleted:
            Shop.objects.filter(pk=shop.pk, follower_count__gt=0).update(
                follower_count=F("follower_count") - 1
            )
    return bool(deleted)
