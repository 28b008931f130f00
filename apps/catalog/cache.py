"""Caches of the product detail, the public list pages and the category tree, invalidated by
version keys, through Django's cache API (Redis in production).

Every write bumps the version of what it changed; readers compare an entry's version with the
current one, so a write is visible on the next read and a reader racing a writer can only fill an
entry nobody reads any more. The bump runs at once (the writer's own next read sees it) and again
after commit (a reader between the first bump and the commit may have cached the old rows under
the new version). A hit is one round trip: the version and the entry in one `get_many`.

What bumps what:

- `product_cache_bump(product_id)`: the product's detail and every public list page (a list shows
  the product's name, price, image, rating and `in_stock`). Catalog services call it on every
  product, variant and image write; inventory on stock changes; reviews on rating changes.
- `category_cache_bump()`: the category tree and every list page (lists show category names).
- `product_list_cache_bump()`: list pages only (for writes elsewhere that a list shows).

The cache is an accelerator: when it cannot be reached (the cache backend ignores its errors,
settings `CACHES`), a read finds no version and builds from the database, and nothing is stored.
A version that is gone (evicted, flushed, Redis restarted) never matches, so no entry outlives
it; the lifetimes below bound how long a write made while the cache was unreachable (its bump
lost) can take to show. With read replicas (apps.core.replicas) nothing is stored under a version
younger than REPLICA_MAX_LAG: a reader may have built it from a replica still before the write.

Other apps whose writes change what the product detail shows (stock availability) call
`product_cache_bump(product_id)` or `product_cache_bump_for_variants(variant_ids)`.
"""

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction

from apps.catalog.metrics import CACHE_LOOKUPS
from apps.core.replicas import replica_lag_window

DETAIL_TTL = 10 * 60
CATEGORY_TTL = 10 * 60
# Lists also show what no catalog write touches (a shop's name, an image's thumbnails once they
# are made): a short lifetime bounds how long such a change can take to show.
LIST_TTL = 5 * 60
# Longer than any data TTL; an expired version is replaced by a fresh random one, which only
# makes the next read rebuild, so version keys need not live forever.
VERSION_TTL = 7 * 24 * 60 * 60
_CATEGORIES = "catalog:categories"
_LIST = "catalog:list"

Entry = dict[str, Any]


def _version_key(name: str) -> str:
    return f"v:{name}"


def _new_version() -> int:
    # The time it was made (milliseconds) in the high bits, for `_storable`.
    return (int(time.time() * 1000) << 20) | secrets.randbits(20)


def _storable(version: int) -> bool:
    """Whether an entry built now may be stored under `version`. With read replicas a reader
    shortly after a write may have read a replica that has not replayed it yet: such an entry is
    served but not stored until the version is older than the longest lag a replica may have."""
    window = replica_lag_window()
    return not window or not -window <= time.time() - (version >> 20) / 1000 <= window


def _bump(*names: str) -> None:
    def bump() -> None:
        version = _new_version()
        cache.set_many({_version_key(name): version for name in names}, timeout=VERSION_TTL)

    bump()
    transaction.on_commit(bump)


def _current_version(name: str) -> int | None:
    """The version of `name`, made when there is none; None when the cache cannot be reached
    (then nothing may be stored: a made-up version could revive old data later)."""
    key = _version_key(name)
    version = cache.get(key)
    if version is None:
        cache.add(key, _new_version(), timeout=VERSION_TTL)
        version = cache.get(key)
    return version


def _usable(cached: Any, version: int | None, ttl: float) -> bool:
    """Whether an entry read from the cache was built under `version` and is within its TTL."""
    return (
        version is not None
        and isinstance(cached, tuple)
        and len(cached) == 3
        and cached[0] == version
        and time.time() - cached[2] < ttl
    )


def _versioned_lookup(name: str, entry_key: str, ttl: float) -> Entry | None:
    """The entry under `entry_key` if one was cached under the current version of `name`; never
    builds. One round trip."""
    version_key = _version_key(name)
    found = cache.get_many([version_key, entry_key])
    cached: Any = found.get(entry_key)
    if not _usable(cached, found.get(version_key), ttl):
        return None
    CACHE_LOOKUPS.labels(_kind(entry_key), "hit").inc()
    return cached[1]


def _kind(entry_key: str) -> str:
    return "list" if entry_key.startswith(_LIST) else "detail"


def _versioned_cached(
    name: str, entry_key: str, ttl: float, build: Callable[[], Entry | None]
) -> Entry | None:
    """The current entry under `entry_key`, else `build()` stored under the current version of
    `name` (None from build: nothing is stored).

    The version is read before `build` reads the database. A reader that read it before a
    writer's after-commit bump stores an entry of that older version, which the bump has already
    made stale, so no stale entry outlives the write."""
    entry = _versioned_lookup(name, entry_key, ttl)
    if entry is not None:
        return entry
    CACHE_LOOKUPS.labels(_kind(entry_key), "miss").inc()
    version = _current_version(name)
    entry = build()
    if entry is not None and version is not None and _storable(version):
        cache.set(entry_key, (version, entry, time.time()), timeout=ttl)
    return entry


# --- product detail ----------


def _product(product_id: UUID | str) -> str:
    return f"catalog:product:{product_id}"


def product_cache_bump(product_id: UUID | str, *, lists: bool = True) -> None:
    """Invalidate the cached detail of one product and the public list pages (call after any
    write that shows in either). `lists=False` leaves the list pages alone: for a write a list
    cannot show, such as a stock change that leaves every variant of the product on the same side
    of zero available (lists show only `in_stock`)."""
    _bump(_product(product_id), *((_LIST,) if lists else ()))


def product_cache_bump_for_variants(variant_ids: Iterable[UUID | str]) -> None:
    """Invalidate the details of the products these variants belong to (one query)."""
    from apps.catalog.models import ProductVariant

    product_ids = set(
        ProductVariant.objects.filter(pk__in=list(variant_ids)).values_list("product_id", flat=True)
    )
    for product_id in product_ids:
        product_cache_bump(product_id)


def product_detail_cached(
    product_id: UUID | str, build: Callable[[], Entry | None]
) -> Entry | None:
    """The cached detail entry of a product, built (and cached) on a miss. None: no product."""
    name = _product(product_id)
    return _versioned_cached(name, f"{name}:detail", DETAIL_TTL, build)


# --- public list pages ----------


def product_cache_bump_for_asset(asset_id: UUID | str) -> None:
    """Invalidate the products showing this media asset (its URLs or thumbnails changed)."""
    from apps.catalog.models import ProductImage

    # The ignore: the plugin types a foreign key's `_id` lookup as the target's pk (UUID), but
    # Django converts a UUID string for it as for the pk itself (the event payload holds a str).
    images = ProductImage.objects.filter(asset_id=asset_id)  # type: ignore[misc]
    product_ids = set(images.values_list("product_id", flat=True))
    if product_ids:
        _bump(*(_product(pid) for pid in product_ids), _LIST)


def product_cache_bump_for_shop(shop_id: UUID | str) -> None:
    """Invalidate the details of a shop's products and the list pages (the shop's name, slug or
    logo shows in both)."""
    from apps.catalog.models import Product

    product_ids = list(Product.objects.filter(shop_id=shop_id).values_list("pk", flat=True))
    _bump(*(_product(pid) for pid in product_ids), _LIST)


def product_cache_bump_many(product_ids: Iterable[UUID | str]) -> None:
    """Invalidate the details of these products and the list pages, in one round trip."""
    _bump(*(_product(pid) for pid in product_ids), _LIST)


def products_in_categories(category_ids: Iterable[UUID | str]) -> list[UUID]:
    """The products filed under these categories (a product's detail shows its category's id,
    slug and name: what a category change has to invalidate)."""
    from apps.catalog.models import Product

    return list(
        Product.objects.filter(category_id__in=list(category_ids)).values_list("pk", flat=True)
    )


def product_list_cache_bump() -> None:
    """Invalidate every cached public list page."""
    _bump(_LIST)


def _page_key(url: str) -> str:
    return f"{_LIST}:page:{hashlib.blake2b(url.encode(), digest_size=16).hexdigest()}"


def product_list_page_cached(url: str, build: Callable[[], Entry]) -> Entry:
    """The rendered public list page for `url` (the absolute request URL: the page's next and
    previous links are made from it), built and cached on a miss."""
    entry = _versioned_cached(_LIST, _page_key(url), LIST_TTL, build)
    assert entry is not None
    return entry


# --- categories ----------


def category_cache_bump() -> None:
    """Invalidate the category tree and the list pages (they show category names)."""
    _bump(_CATEGORIES, _LIST)


def categories_cached(build: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    version = _current_version(_CATEGORIES)
    if version is None:
        CACHE_LOOKUPS.labels("categories", "miss").inc()
        return build()
    key = f"{_CATEGORIES}:{version}"
    tree = cache.get(key)
    CACHE_LOOKUPS.labels("categories", "miss" if tree is None else "hit").inc()
    if tree is None:
        tree = build()
        if _storable(version):
            cache.set(key, tree, timeout=CATEGORY_TTL)
    return tree
