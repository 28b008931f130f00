"""Cart writes. Prices are never stored: a line is a variant and a quantity.

Every change locks the cart row first, so two concurrent requests on one cart (double click,
two tabs) apply one after the other instead of losing an update.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.cart import errors
from apps.cart.models import Cart, CartItem, new_cart_token
from apps.catalog.models import Product, ProductVariant
from apps.inventory.errors import InsufficientStock
from apps.shops.models import Shop
from apps.users.models import User

# A guest cart that is only read still counts as in use; its idle clock moves at most this often
# so that reading a cart does not write on every request.
TOUCH_INTERVAL = timedelta(hours=12)


def _touch(cart: Cart) -> None:
    cart.updated_at = timezone.now()
    Cart.objects.filter(pk=cart.pk).update(updated_at=cart.updated_at)


def cart_get_for_user(*, user: User) -> Cart:
    """The user's cart, created on first use."""
    cart = Cart.objects.filter(user=user).first()
    if cart is not None:
        return cart
    try:
        with transaction.atomic():
            return Cart.objects.create(user=user)
    except IntegrityError:  # created concurrently by another request of the same user
        return Cart.objects.get(user=user)


def cart_find_for_guest(*, token: str | None) -> Cart | None:
    """The guest cart named by `token` (never someone else's cart), None when there is none."""
    if not token:
        return None
    cart = Cart.objects.filter(token=token, user__isnull=True).first()
    if cart is not None and cart.updated_at < timezone.now() - TOUCH_INTERVAL:
        _touch(cart)
    return cart


def cart_get_for_guest(*, token: str | None) -> tuple[Cart, bool]:
    """The guest cart named by `token`, or a new guest cart with a fresh token when the token is
    missing or names no guest cart. Only writes create one: reading a cart that does not exist
    yet must not insert a row per anonymous request. Returns (cart, created)."""
    cart = cart_find_for_guest(token=token)
    if cart is not None:
        return cart, False
    return Cart.objects.create(token=new_cart_token()), True


def _lock(cart: Cart) -> Cart:
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _purchasable_variant(variant_id: UUID) -> ProductVariant:
    variant = (
        ProductVariant.objects.select_related("product", "stock")
        .filter(
            pk=variant_id,
            is_active=True,
            product__status=Product.Status.PUBLISHED,
            product__shop__status=Shop.Status.ACTIVE,
        )
        .first()
    )
    if variant is None:
        raise errors.CartVariantNotFound(
            "No such product variant for sale.", variant_id=str(variant_id)
        )
    return variant


def variant_available(variant: ProductVariant) -> int:
    """Units that can still be reserved (0 when the variant has no stock row)."""
    stock = getattr(variant, "stock", None)
    return max(stock.available, 0) if stock is not None else 0


def _check_quantity(variant: ProductVariant, quantity: int) -> None:
    limit = settings.CART_MAX_LINE_QUANTITY
    if quantity > limit:
        raise errors.CartLineQuantityLimit(
            f"At most {limit} units of one item per order.",
            max_quantity=limit,
            requested=quantity,
            variant_id=str(variant.pk),
        )
    available = variant_available(variant)
    if quantity > available:
        raise InsufficientStock(
            f"Only {available} units of {variant.sku} are available.",
            sku=variant.sku,
            variant_id=str(variant.pk),
            available=available,
            requested=quantity,
        )


@transaction.atomic
def cart_item_add(*, cart: Cart, variant_id: UUID, quantity: int) -> CartItem:
    """Add `quantity` units (added to an existing line of the same variant).

    Raises CartVariantNotFound (unknown, inactive or unpublished: 404), CartLineQuantityLimit
    (422) and InsufficientStock (409, with `available`). Stock is only read, never reserved.
    """
    cart = _lock(cart)
    variant = _purchasable_variant(variant_id)
    item = CartItem.objects.filter(cart=cart, variant=variant).first()
    new_quantity = quantity + (item.quantity if item else 0)
    _check_quantity(variant, new_quantity)
    if item is None:
        item = CartItem.objects.create(cart=cart, variant=variant, quantity=new_quantity)
    else:
        item.quantity = new_quantity
        item.save(update_fields=["quantity", "updated_at"])
    _touch(cart)
    return item


def _item(cart: Cart, item_id: UUID) -> CartItem:
    item = CartItem.objects.filter(cart=cart, pk=item_id).first()
    if item is None:
        raise errors.CartItemNotFound("No such item in your cart.")
    return item


@transaction.atomic
def cart_item_set_quantity(*, cart: Cart, item_id: UUID, quantity: int) -> CartItem | None:
    """Set a line's quantity (absolute); 0 removes it and returns None. A lower quantity is
    always accepted, even for a line that is no longer for sale or short of stock."""
    cart = _lock(cart)
    item = _item(cart, item_id)
    if quantity == 0:
        item.delete()
        _touch(cart)
        return None
    if quantity > item.quantity:
        variant = _purchasable_variant(item.variant_id)
        _check_quantity(variant, quantity)
    elif quantity > settings.CART_MAX_LINE_QUANTITY:
        _check_quantity(item.variant, quantity)
    item.quantity = quantity
    item.save(update_fields=["quantity", "updated_at"])
    _touch(cart)
    return item


@transaction.atomic
def cart_item_remove(*, cart: Cart, item_id: UUID) -> None:
    cart = _lock(cart)
    _item(cart, item_id).delete()
    _touch(cart)


@transaction.atomic
def cart_clear(*, cart: Cart) -> None:
    cart = _lock(cart)
    CartItem.objects.filter(cart=cart).delete()
    _touch(cart)


def cart_lines_remove(
    *,
    user: User,
    variant_ids: Iterable[UUID] = (),
    item_ids: Iterable[UUID] | None = None,
    touch: bool = True,
) -> int:
    """Remove the user's cart lines after they were bought: the lines `item_ids` (read from the
    user's cart in the caller's transaction), else the lines of `variant_ids`. Runs inside the
    caller's transaction: one DELETE, and the cart's `updated_at` when lines went
    (`touch=False`: the caller already moved it). Returns the number of lines removed."""
    lines = CartItem.objects.filter(cart_id__in=Cart.objects.filter(user=user).values("pk"))
    if item_ids is not None:
        ids = list(item_ids)
        lines = lines.filter(pk__in=ids)
    else:
        ids = list(variant_ids)
        lines = lines.filter(variant_id__in=ids)
    if not ids:
        return 0
    with transaction.atomic(savepoint=False):
        # Nothing cascades from a cart line, so this is one DELETE (Django's fast delete).
        removed, _ = lines.delete()
        if removed and touch:
            Cart.objects.filter(user=user).update(updated_at=timezone.now())
    return removed


@transaction.atomic
def cart_merge(*, user: User, token: str) -> Cart:
    """Fold the guest cart named by `token` into the user's cart and delete the guest cart.

    Quantities of the same variant add up, capped by CART_MAX_LINE_QUANTITY and by the stock
    available (an existing user line is never lowered); guest lines no longer for sale are
    dropped. A token naming no guest cart changes nothing (a retried merge is harmless).
    """
    cart = _lock(cart_get_for_user(user=user))
    guest = Cart.objects.select_for_update().filter(token=token, user__isnull=True).first()
    if guest is None:
        return cart
    guest_items = list(
        CartItem.objects.filter(cart=guest).select_related(
            "variant__product__shop", "variant__stock"
        )
    )
    existing = {
        item.variant_id: item
        for item in CartItem.objects.filter(
            cart=cart, variant_id__in=[i.variant_id for i in guest_items]
        )
    }
    limit = settings.CART_MAX_LINE_QUANTITY
    for guest_item in guest_items:
        variant = guest_item.variant
        product = variant.product
        if not (
            variant.is_active
            and product.status == Product.Status.PUBLISHED
            and product.shop.status == Shop.Status.ACTIVE
        ):
            continue
        mine = existing.get(variant.pk)
        current = mine.quantity if mine else 0
        wanted = min(current + guest_item.quantity, limit, variant_available(variant))
        wanted = max(wanted, current)
        if mine is None and wanted > 0:
            CartItem.objects.create(cart=cart, variant=variant, quantity=wanted)
        elif mine is not None and wanted != current:
            mine.quantity = wanted
            mine.save(update_fields=["quantity", "updated_at"])
    guest.delete()
    _touch(cart)
    return cart


def cart_purge_idle_guests(*, now: datetime | None = None, ttl_days: int | None = None) -> int:
    """Delete guest carts untouched for `ttl_days` (CART_GUEST_TTL_DAYS). Returns how many."""
    now = now or timezone.now()
    ttl_days = settings.CART_GUEST_TTL_DAYS if ttl_days is None else ttl_days
    cutoff = now - timedelta(days=ttl_days)
    purged = 0
    while True:
        ids = list(
            Cart.objects.filter(user__isnull=True, updated_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:500]
        )
        if not ids:
            return purged
        with transaction.atomic():
            CartItem.objects.filter(cart_id__in=ids).delete()
            purged += (
                Cart.objects.filter(pk__in=ids, updated_at__lt=cutoff)
                .delete()[1]
                .get("cart.Cart", 0)
            )
