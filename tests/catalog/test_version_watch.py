"""The per-process copy of the catalog's version keys (`apps.catalog.cache._VersionWatch`): Redis
pushes every change of a version key to each process, so a cache hit needs no round trip and a
write made anywhere is still visible on the next read. When the push connection is missing, every
read asks Redis, as it did before the watch."""

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from apps.catalog import cache as catalog_cache
from apps.catalog.models import Product
from tests.catalog.factories import make_product
from tests.services import need_redis

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products"


@pytest.fixture(autouse=True)
def _redis():
    need_redis()
    catalog_cache.local_caches_clear()
    yield
    catalog_cache.local_caches_clear()
    catalog_cache._versions._retry_at = 0.0  # the next test watches again at once


@pytest.fixture
def other_process():
    """A Redis client of its own: what another web process's writes look like from here."""
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    yield client
    client.close()


@pytest.fixture
def version_reads(monkeypatch):
    """Count the version GETs this process sends to Redis."""
    reads = []
    original = catalog_cache._VersionReader.get

    def get(self, client, key, full_key):
        reads.append(key)
        return original(self, client, key, full_key)

    monkeypatch.setattr(catalog_cache._VersionReader, "get", get)
    return reads


def _full_key(name: str) -> bytes:
    return cache.client.make_key(catalog_cache._version_key(name)).encode()


def _name(api_client, product) -> str:
    response = api_client.get(f"{LIST}/{product.pk}")
    assert response.status_code == 200
    return response.json()["name"]


def test_hits_ask_redis_for_no_version(api_client, shop, version_reads):
    product = make_product(shop, name="Lamp", stock=1)
    # Misses: each builds and caches its entry, reading its version once.
    _name(api_client, product)
    assert api_client.get(LIST).status_code == 200
    assert len(version_reads) == 2
    version_reads.clear()
    for _ in range(20):
        assert _name(api_client, product) == "Lamp"
        assert api_client.get(LIST).status_code == 200
    assert version_reads == []


def test_another_process_write_shows_on_the_next_read(api_client, shop, other_process):
    product = make_product(shop, name="Before", stock=1)
    assert _name(api_client, product) == "Before"
    assert _name(api_client, product) == "Before"  # a hit from this process's copy
    Product.objects.filter(pk=product.pk).update(name="After")
    # Another process bumps the version: only Redis changes; its push reaches this process
    # before that write returns.
    other_process.set(_full_key(catalog_cache._product(product.pk)), 424242)
    assert _name(api_client, product) == "After"


def test_deleted_version_shows_on_the_next_read(api_client, shop, other_process):
    product = make_product(shop, name="Before", stock=1)
    assert _name(api_client, product) == "Before"
    Product.objects.filter(pk=product.pk).update(name="After")
    other_process.delete(_full_key(catalog_cache._product(product.pk)))  # evicted, say
    assert _name(api_client, product) == "After"


def test_a_read_racing_a_write_does_not_keep_the_old_version(
    api_client, shop, other_process, monkeypatch
):
    """The GET returns the old version while a write lands: that version is not remembered."""
    product = make_product(shop, name="Before", stock=1)
    assert _name(api_client, product) == "Before"
    catalog_cache._versions.clear()  # the next read asks Redis
    original = catalog_cache._VersionReader.get
    key = catalog_cache._version_key(catalog_cache._product(product.pk))

    def get_then_write(self, client, key_, full_key):
        value = original(self, client, key_, full_key)
        if key_ == key:
            Product.objects.filter(pk=product.pk).update(name="After")
            other_process.set(full_key, 777)
        return value

    monkeypatch.setattr(catalog_cache._VersionReader, "get", get_then_write)
    assert _name(api_client, product) == "Before"  # served under the version it read
    monkeypatch.setattr(catalog_cache._VersionReader, "get", original)
    assert _name(api_client, product) == "After"


def test_a_lost_watch_connection_falls_back_to_reading_versions(
    api_client, shop, other_process, version_reads
):
    product = make_product(shop, name="Before", stock=1)
    assert _name(api_client, product) == "Before"
    watch = catalog_cache._versions._conn
    assert watch is not None
    # Redis drops the watch connection (a restart, a proxy timeout, an output buffer limit).
    host, port = watch._sock.getsockname()[:2]
    assert other_process.client_kill(f"{host}:{port}") is True
    Product.objects.filter(pk=product.pk).update(name="After")
    other_process.set(_full_key(catalog_cache._product(product.pk)), 31337)
    version_reads.clear()
    # Without its pushes the copy cannot be trusted: the read asks Redis and sees the write.
    assert _name(api_client, product) == "After"
    assert version_reads


def test_without_client_tracking_every_read_asks_redis(
    api_client, shop, monkeypatch, version_reads
):
    """A Redis-compatible server without CLIENT TRACKING: correct, one GET a read, as before."""

    def refuse(self, client):
        raise redis.ResponseError("unknown subcommand 'TRACKING'")

    monkeypatch.setattr(catalog_cache._VersionWatch, "_connect", refuse)
    monkeypatch.setattr(catalog_cache._versions, "_conn", None)
    monkeypatch.setattr(catalog_cache._versions, "_retry_at", 0.0)
    product = make_product(shop, name="Before", stock=1)
    assert _name(api_client, product) == "Before"
    version_reads.clear()
    assert _name(api_client, product) == "Before"
    assert version_reads == [catalog_cache._version_key(catalog_cache._product(product.pk))]
    Product.objects.filter(pk=product.pk).update(name="After")
    catalog_cache.product_cache_bump(product.pk)
    assert _name(api_client, product) == "After"


def test_versions_are_trusted_for_a_bounded_time(api_client, shop, monkeypatch, version_reads):
    monkeypatch.setattr(catalog_cache, "VERSION_TRUST_SECONDS", 0.0)
    product = make_product(shop, name="Lamp", stock=1)
    _name(api_client, product)
    version_reads.clear()
    _name(api_client, product)
    _name(api_client, product)
    assert len(version_reads) == 2


def test_a_flush_forgets_every_version():
    watch = catalog_cache._versions
    watch._known = {b"a": (1, float("inf")), b"b": (2, float("inf"))}
    generation = watch._generation
    watch._apply([b"invalidate", [b"a"]])
    assert watch._known == {b"b": (2, float("inf"))}
    watch._apply([b"invalidate", None])  # FLUSHDB, FLUSHALL
    assert watch._known == {}
    assert watch._generation == generation + 2


def test_bumps_write_versions_the_cache_api_reads_back(other_process):
    catalog_cache._versions.writer.set_many({"v:catalog:probe": 1234567890123}, ttl=300)
    assert cache.get("v:catalog:probe") == 1234567890123
    assert 0 < other_process.ttl(cache.client.make_key("v:catalog:probe")) <= 300
