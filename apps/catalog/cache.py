"""Redis caches of the product detail and the category tree, invalidated by version keys.

Every write bumps the version of what it changed; readers compose the data key from the current
version, so a write is visible on the next read and a reader racing a writer can only fill a key
nobody reads any more. The bump runs at once (the writer's own next read sees it) and again after
commit (a reader between the first bump and the commit may have cached the old rows under the new
version).

Other apps whose writes change what the product detail shows (stock availability) call
`product_cache_bump(product_id)` or `product_cache_bump_for_variants(variant_ids)`.
"""

import uuid
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction

DETAIL_TTL = 60 * 60
CATEGORY_TTL = 60 * 60
# Longer than any data TTL; an expired version is replaced by a fresh random one, which only
# makes the next read rebuild, so version keys need not live forever.
VERSION_TTL = 7 * 24 * 60 * 60
_CATEGORIES = "catalog:categories"


def _version_key(name: str) -> str:
    return f"{name}:v"


def _new_version() -> str:
    return uuid.uuid4().hex[:16]


def _bump(name: str) -> None:
    def bump() -> None:
        cache.set(_version_key(name), _new_version(), timeout=VERSION_TTL)

    bump()
    transaction.on_commit(bump)


def _current_version(name: str) -> str:
    key = _version_key(name)
    version = cache.get(key)
    if version is None:
        # Never fall back to a fixed version: an evicted version key would revive old data.
        cache.add(key, _new_version(), timeout=VERSION_TTL)
        version = cache.get(key) or _new_version()
    return version


def _product(product_id: UUID | str) -> str:
    return f"catalog:product:{product_id}"


def product_cache_bump(product_id: UUID | str) -> None:
    """Invalidate the cached detail of one product (call after any write that shows in it)."""
    _bump(_product(product_id))


def product_cache_bump_for_variants(variant_ids: Iterable[UUID | str]) -> None:
    """Invalidate the details of the products these variants belong to (one query)."""
    from apps.catalog.models import ProductVariant

    product_ids = set(
        ProductVariant.objects.filter(pk__in=list(variant_ids)).values_list("product_id", flat=True)
    )
    for product_id in product_ids:
        product_cache_bump(product_id)


def product_detail_cached(
    product_id: UUID | str, build: Callable[[], dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The cached detail entry of a product, built (and cached) on a miss. None: no product.

    The entry carries the version it was built under and is read together with the current
    version in one round trip; an entry of another version is stale. (A reader that read the
    version before a writer's after-commit bump stores an entry of that older version, which the
    bump has already made stale, so no stale entry outlives the write.)"""
    name = _product(product_id)
    version_key, entry_key = _version_key(name), f"{name}:detail"
    found = cache.get_many([version_key, entry_key])
    version = found.get(version_key) or _current_version(name)
    cached = found.get(entry_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    entry = build()
    if entry is None:
        return None
    cache.set(entry_key, (version, entry), timeout=DETAIL_TTL)
    return entry


def category_cache_bump() -> None:
    _bump(_CATEGORIES)


def categories_cached(build: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    key = f"{_CATEGORIES}:{_current_version(_CATEGORIES)}"
    tree = cache.get(key)
    if tree is None:
        tree = build()
        cache.set(key, tree, timeout=CATEGORY_TTL)
    return tree
