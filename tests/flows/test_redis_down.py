"""Redis is an accelerator: with the cache's Redis unreachable the whole purchase path still works,
catalog reads come from the database, throttles let requests through (with a warning), sessions
and idempotency keys keep working, and no answer is a 5xx."""

import logging
from decimal import Decimal

import pytest
from django.core.cache import cache
from prometheus_client import REGISTRY

from apps.core.logging import CacheOutageFilter
from apps.orders.models import Checkout, Order
from tests.brokers import free_port
from tests.catalog.factories import make_product
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Bea Buyer",
    "line1": "1 Market Street",
    "line2": "",
    "city": "Springfield",
    "state": "",
    "postal_code": "12345",
    "country": "US",
    "phone": "+1 555 010 0000",
}


@pytest.fixture
def redis_down(settings):
    """The cache points at a port nothing listens on (as when Redis is stopped)."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    cache.set("probe", 1)  # unreachable: ignored
    assert cache.get("probe") is None


def test_catalog_reads_come_from_the_database(new_api, redis_down):
    shop = ShopFactory(name="Alpha", slug="alpha")
    lamp = make_product(shop, name="Desk Lamp", price="20.00", stock=5)
    anonymous = new_api()

    listing = anonymous.get("/api/v1/products")
    detail = anonymous.get(f"/api/v1/products/{lamp.slug}")
    categories = anonymous.get("/api/v1/categories")
    types = anonymous.get("/api/v1/product-types")

    assert [r.status_code for r in (listing, detail, categories, types)] == [200] * 4
    assert [p["name"] for p in listing.json()["results"]] == ["Desk Lamp"]
    assert detail.json()["id"] == str(lamp.pk)
    assert detail.json()["variants"][0]["price"] == "20.00"
    # a write is visible at once: nothing was cached
    lamp.variants.update(price=Decimal("25.00"))
    assert anonymous.get(f"/api/v1/products/{lamp.slug}").json()["variants"][0]["price"] == "25.00"


@pytest.fixture
def fresh_outage_filter():
    """The cache's error logger with a filter of its own (another test may have used up the
    interval of the configured one)."""
    logger = logging.getLogger("apps.core.cache")
    configured = list(logger.filters)
    for old in configured:
        logger.removeFilter(old)
    logger.addFilter(CacheOutageFilter())
    yield
    for new in list(logger.filters):
        logger.removeFilter(new)
    for old in configured:
        logger.addFilter(old)


def test_throttles_fail_open_with_a_rate_limited_warning(
    new_api, redis_down, fresh_outage_filter, settings, caplog
):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    anonymous = new_api()

    errors_before = REGISTRY.get_sample_value("marketplace_cache_errors_total") or 0
    with caplog.at_level(logging.WARNING, logger="apps.core.cache"):
        statuses = [anonymous.get("/api/v1/product-types").status_code for _ in range(6)]

    assert statuses == [200] * 6
    # every throttle call failed and was counted (the anonymous burst throttle's get and set)
    assert REGISTRY.get_sample_value("marketplace_cache_errors_total") - errors_before >= 12
    warnings = [r for r in caplog.records if r.name == "apps.core.cache"]
    assert len(warnings) == 1  # one line per interval, not one per failed call
    assert warnings[0].levelname == "WARNING"
    assert warnings[0].getMessage().startswith("cache unavailable, served without it")
    assert warnings[0].exc_info is None


def test_the_purchase_path_works_without_redis(new_api, redis_down):
    shop = ShopFactory(name="Alpha", slug="alpha", shipping_fee=Decimal("5.00"))
    lamp = make_product(shop, name="Desk Lamp", price="20.00", stock=5)
    variant = lamp.variants.get()

    guest = new_api()
    added = guest.post("/api/v1/cart/items", {"variant_id": str(variant.pk), "quantity": 2})
    assert added.status_code == 201, added.content
    token = added["X-Cart-Token"]

    buyer = new_api()
    buyer.signup("bea@example.com", "Bea Buyer")
    buyer.login("bea@example.com")
    assert buyer.get("/api/v1/me").status_code == 200
    merged = buyer.post("/api/v1/cart/merge", HTTP_X_CART_TOKEN=token)
    assert merged.status_code == 200, merged.content

    body = {"shipping_address": ADDRESS, "payment_method": "cash_on_delivery"}
    placed = buyer.post("/api/v1/orders", body, HTTP_IDEMPOTENCY_KEY="order-1")
    replay = buyer.post("/api/v1/orders", body, HTTP_IDEMPOTENCY_KEY="order-1")

    assert placed.status_code == 201, placed.content
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == placed.content
    assert Checkout.objects.count() == 1
    (order,) = Order.objects.all()
    assert order.total == Decimal("45.00")
    unread = buyer.get("/api/v1/notifications/unread-count")
    assert unread.status_code == 200
    assert unread.json() == {"count": 1}  # order.placed, counted from the database


def test_a_stream_ticket_is_refused_with_503_not_handed_out_unusable(new_api, redis_down):
    buyer = new_api()
    buyer.signup("bea@example.com", "Bea Buyer")

    response = buyer.post("/api/v1/notifications/stream-ticket")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "notification.stream_unavailable"
