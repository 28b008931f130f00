"""Redis caches of the product detail, the public list pages and the category tree, invalidated
by version keys, with a small per-process copy of the hottest entries in front of Redis.

Every write bumps the version of what it changed; readers compare an entry's version with the
current one, so a write is visible on the next read and a reader racing a writer can only fill an
entry nobody reads any more. The bump runs at once (the writer's own next read sees it) and again
after commit (a reader between the first bump and the commit may have cached the old rows under
the new version).

What bumps what:

- `product_cache_bump(product_id)`: the product's detail and every public list page (a list shows
  the product's name, price, image, rating and `in_stock`). Catalog services call it on every
  product, variant and image write; inventory on stock changes; reviews on rating changes.
- `category_cache_bump()`: the category tree and every list page (lists show category names).
- `product_list_cache_bump()`: list pages only (for writes elsewhere that a list shows).

Per-process copies (`_LocalEntries`) hold entries with the version they were built under, and
each process holds the current versions too, kept current by Redis's own invalidation pushes
(`_VersionWatch`, client-side caching in broadcast mode): a hit on a copy costs no round trip.
While the push connection is down, every read GETs its version from Redis instead. A version
that is gone (evicted, cache cleared) never matches, so nothing survives a flush.

Other apps whose writes change what the product detail shows (stock availability) call
`product_cache_bump(product_id)` or `product_cache_bump_for_variants(variant_ids)`.
"""

import hashlib
import logging
import os
import secrets
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction
from django_redis.client import DefaultClient
from redis.exceptions import RedisError

DETAIL_TTL = 60 * 60
CATEGORY_TTL = 60 * 60
# Lists also show what no catalog write touches (a shop's name, an image's thumbnails once they
# are made): a short lifetime bounds how long such a change can take to show.
LIST_TTL = 5 * 60
# Longer than any data TTL; an expired version is replaced by a fresh random one, which only
# makes the next read rebuild, so version keys need not live forever.
VERSION_TTL = 7 * 24 * 60 * 60
# Every version key starts with this (after the cache's own key prefix): Redis pushes their
# invalidations to each process (`_VersionWatch`).
_VERSION_PREFIX = "v:"
# How long a process trusts a version it holds without hearing from Redis, at most (a bound for
# a watch connection that died silently; pushes normally make it moot), how many it holds, and
# how long it waits before it tries to watch again after the watch connection failed.
VERSION_TRUST_SECONDS = 2.0
VERSION_COPIES = 10_000
WATCH_RETRY_SECONDS = 5.0
_CATEGORIES = "catalog:categories"
_LIST = "catalog:list"

Entry = dict[str, Any]
logger = logging.getLogger(__name__)


class _LocalEntries:
    """A bounded LRU of (version, expiry, entry) in this process, shared by its threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[int, float, Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: int) -> Entry | None:
        item = self._items.get(key)
        if item is None or item[0] != version or item[1] < time.monotonic():
            return None
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
        return item[2]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: str, version: int, entry: Entry, ttl: float) -> None:
        with self._lock:
            self._items[key] = (version, time.monotonic() + ttl, entry)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_local_details = _LocalEntries(2048)
_local_pages = _LocalEntries(512)


def local_caches_clear() -> None:
    """Forget this process's copies (tests reading through to Redis as another process would;
    never needed for correctness)."""
    _local_details.clear()
    _local_pages.clear()
    _versions.clear()


def _version_key(name: str) -> str:
    return f"{_VERSION_PREFIX}{name}"


def _new_version() -> int:
    # An int: django-redis stores it as plain digits, which `_VersionReader` reads without pickle.
    return secrets.randbits(62)


def _bump(*names: str) -> None:
    def bump() -> None:
        version = _new_version()
        _versions.writer.set_many({_version_key(name): version for name in names}, ttl=VERSION_TTL)

    bump()
    transaction.on_commit(bump)


def _current_version(name: str) -> int:
    key = _version_key(name)
    version = cache.get(key)
    if version is None:
        # Never fall back to a fixed version: an evicted version key would revive old data.
        cache.add(key, _new_version(), timeout=VERSION_TTL)
        version = cache.get(key) or _new_version()
    return version


class _VersionReader:
    """GETs (a miss of the watch) and SETs (bumps) of version keys on a Redis connection of this
    thread's own.

    redis-py's client and connection pool, and django-redis above them, spend 100-200 us of
    Python per command on this project's bench machine (pool lock, a poll of the socket,
    packing, a pipeline object for set_many), several times the loopback round trip itself; here
    a command is one `send_packed_command` and one `read_response` on a plain redis-py
    `Connection` made from the cache's own connection settings. Values are written and read as
    django-redis writes and reads integers (plain digits). Any error goes through the cache API.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _connection(self, client: DefaultClient) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            pool = client.get_client(write=False).connection_pool
            conn = pool.connection_class(**pool.connection_kwargs)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _send(self, client: DefaultClient, commands: list[bytes], replies: int) -> list[Any]:
        conn = self._connection(client)
        try:
            conn.send_packed_command(commands, check_health=False)
            return [conn.read_response() for _ in range(replies)]
        except (RedisError, OSError):
            conn.disconnect()
            self._local.conn = None
            raise

    def get(self, client: DefaultClient, key: str, full_key: bytes) -> Any:
        command = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(full_key), full_key)
        try:
            (raw,) = self._send(client, [command], 1)
        except (RedisError, OSError):
            return cache.get(key)
        return None if raw is None else client.decode(raw)

    def set_many(self, versions: dict[str, int], ttl: int) -> None:
        """SET every version key (with its expiry) in one round trip."""
        client = getattr(cache, "client", None)
        if not isinstance(client, DefaultClient):
            cache.set_many(versions, timeout=ttl)
            return
        commands = []
        seconds = str(ttl).encode()
        for key, version in versions.items():
            full_key, value = client.make_key(key).encode(), str(int(version)).encode()
            commands.append(
                b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$%d\r\n%s\r\n"
                % (len(full_key), full_key, len(value), value, len(seconds), seconds)
            )
        try:
            self._send(client, commands, len(commands))
        except (RedisError, OSError):
            cache.set_many(versions, timeout=ttl)


class _VersionWatch:
    """This process's copy of the version keys, kept current by Redis itself, so that a cache hit
    costs no round trip at all.

    One connection per process asks Redis to track every version key (`CLIENT TRACKING ON BCAST
    PREFIX <version keys>`, RESP3). Whenever any client sets, deletes, expires or evicts one,
    Redis pushes an invalidation naming it to that connection (FLUSHDB pushes "all"). Redis
    queues the push before it answers the writer's command, so by the time a writer's request
    has returned the push is already in every process's socket buffer; a read first applies
    what is waiting there (one non-blocking poll of that socket) and then answers from the copy.
    A write is therefore still visible on the next read, in any process.

    Failure handling: while the watch connection is down (Redis restarted, network, a server
    without CLIENT TRACKING) every read GETs its version from Redis, as before; the copy is
    emptied whenever the connection is (re)made, since pushes may have been missed. A version is
    also trusted for at most `VERSION_TRUST_SECONDS`, which bounds how stale a process can be
    if its connection died without either side noticing. A GET racing a push never stores the
    version the push invalidated (the generation check)."""

    def __init__(self, reader: _VersionReader) -> None:
        self._reader = self.writer = reader
        self._lock = threading.Lock()
        self._known: dict[bytes, tuple[Any, float]] = {}
        self._generation = 0
        self._conn: Any = None
        self._poll: Any = None  # select.poll() on the watch socket
        self._pid = 0
        self._retry_at = 0.0
        self._full_keys: dict[str, bytes] = {}

    def get(self, key: str) -> Any:
        client = getattr(cache, "client", None)
        if not isinstance(client, DefaultClient):
            return cache.get(key)
        full_key = self._full_keys.get(key)
        if full_key is None:
            if len(self._full_keys) >= VERSION_COPIES:
                self._full_keys.clear()
            full_key = self._full_keys[key] = client.make_key(key).encode()
        now = time.monotonic()
        with self._lock:
            watching = self._watching(client, now)
            if watching:
                known = self._known.get(full_key)
                if known is not None and known[1] > now:
                    return known[0]
            generation = self._generation
        value = self._reader.get(client, key, full_key)
        if watching and value is not None:
            with self._lock:
                if self._watching(client, now) and self._generation == generation:
                    if len(self._known) >= VERSION_COPIES:
                        self._known.clear()
                    self._known[full_key] = (value, now + VERSION_TRUST_SECONDS)
        return value

    def clear(self) -> None:
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._known.clear()
        self._generation += 1

    def _watching(self, client: DefaultClient, now: float) -> bool:
        """True when the watch connection is up and every push it received has been applied."""
        if self._pid != os.getpid():  # forked: the parent's socket is not ours to read
            self._conn, self._poll, self._pid, self._retry_at = None, None, os.getpid(), 0.0
            self._forget()
        if self._conn is None:
            if now < self._retry_at:
                return False
            try:
                self._connect(client)
            except (RedisError, OSError) as exc:
                logger.warning("catalog cache: no invalidation push (%s); reading versions", exc)
                self._retry_at = now + WATCH_RETRY_SECONDS
                return False
        try:
            # The poll of the socket is the cheap check (about 1 us); what it finds is read until
            # the parser's buffer is empty too, so that the next poll sees everything pending.
            if self._poll is None or self._poll.poll(0):
                while self._conn.can_read(timeout=0):
                    self._apply(self._conn.read_response(push_request=True))
        except (RedisError, OSError) as exc:
            logger.warning("catalog cache: invalidation push lost (%s); reading versions", exc)
            self._conn.disconnect()
            self._conn, self._poll, self._retry_at = None, None, now + WATCH_RETRY_SECONDS
            self._forget()
            return False
        return True

    def _connect(self, client: DefaultClient) -> None:
        pool = client.get_client(write=False).connection_pool
        conn = pool.connection_class(
            **{**pool.connection_kwargs, "protocol": 3, "socket_keepalive": True}
        )
        try:
            conn.connect()
            # The handler hands each invalidation back to read_response (see _apply).
            conn._parser.set_invalidation_push_handler(lambda message: message)
            prefix = client.make_key(_VERSION_PREFIX)
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", prefix)
            conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        self._conn = conn
        self._poll = None
        sock = getattr(conn, "_sock", None)  # redis-py's socket; without it, can_read() polls
        if sock is not None and hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        self._forget()

    def _apply(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) != 2:
            return
        kind, keys = message
        if kind not in (b"invalidate", "invalidate"):
            return
        self._generation += 1
        if keys is None:  # FLUSHDB / FLUSHALL
            self._known.clear()
            return
        for key in keys:
            self._known.pop(key if isinstance(key, bytes) else str(key).encode(), None)


_versions = _VersionWatch(_VersionReader())


def _usable(cached: Any, version: int, ttl: float) -> float:
    """Seconds an entry read from Redis may still be served (0: stale, expired or foreign)."""
    if not (isinstance(cached, tuple) and len(cached) == 3 and cached[0] == version):
        return 0
    return max(ttl - (time.time() - cached[2]), 0)


def _versioned_lookup(name: str, entry_key: str, local: _LocalEntries, ttl: float) -> Entry | None:
    """The entry under `entry_key` if one was cached under the current version of `name` (this
    process's copy, else Redis's); never builds. A hit on this process's copy, with the version
    known from the watch, touches neither Redis nor the database."""
    version = _versions.get(_version_key(name))
    if version is None:
        return None
    entry = local.get(entry_key, version)
    if entry is not None:
        return entry
    cached = cache.get(entry_key)
    remaining = _usable(cached, version, ttl)
    if not remaining:
        return None
    local.put(entry_key, version, cached[1], remaining)
    return cached[1]


def _versioned_cached(
    name: str,
    entry_key: str,
    local: _LocalEntries,
    ttl: float,
    build: Callable[[], Entry | None],
) -> Entry | None:
    """The current entry under `entry_key`, else `build()` stored under the current version of
    `name` (None from build: nothing is stored).

    The version is read before `build` reads the database. A reader that read it before a
    writer's after-commit bump stores an entry of that older version, which the bump has already
    made stale, so no stale entry outlives the write."""
    entry = _versioned_lookup(name, entry_key, local, ttl)
    if entry is not None:
        return entry
    version = _current_version(name)
    entry = build()
    if entry is None:
        return None
    cache.set(entry_key, (version, entry, time.time()), timeout=ttl)
    local.put(entry_key, version, entry, ttl)
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
    return _versioned_cached(name, f"{name}:detail", _local_details, DETAIL_TTL, build)


def product_detail_lookup(product_id: UUID | str) -> Entry | None:
    """The cached detail entry of a product if there is a current one (None: not cached)."""
    name = _product(product_id)
    return _versioned_lookup(name, f"{name}:detail", _local_details, DETAIL_TTL)


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
    entry = _versioned_cached(_LIST, _page_key(url), _local_pages, LIST_TTL, build)
    assert entry is not None
    return entry


def product_list_page_lookup(url: str) -> Entry | None:
    """The cached public list page for `url` if there is a current one."""
    return _versioned_lookup(_LIST, _page_key(url), _local_pages, LIST_TTL)


# --- categories ----------


def category_cache_bump() -> None:
    """Invalidate the category tree and the list pages (they show category names)."""
    _bump(_CATEGORIES, _LIST)


def categories_cached(build: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    key = f"{_CATEGORIES}:{_current_version(_CATEGORIES)}"
    tree = cache.get(key)
    if tree is None:
        tree = build()
        cache.set(key, tree, timeout=CATEGORY_TTL)
    return tree
