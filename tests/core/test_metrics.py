"""/metrics: off unless enabled, for staff, a bearer token or allowed addresses only; what the
API counts (requests by route, queries, orders, stock-outs, catalog cache) and what is read at
scrape time (outbox lag, queues)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.core import metrics
from apps.events.metrics import outbox_lag, queue_depths
from apps.events.models import OutboxEvent
from apps.inventory.errors import InsufficientStock
from apps.inventory.services import StockLine, stock_reserve
from tests.inventory.factories import StockItemFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def enabled(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = "t" * 40
    settings.METRICS_ALLOWED_IPS = []
    return settings


def test_metrics_are_off_unless_enabled(client):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 404


def test_metrics_refuse_anyone_not_allowed(enabled):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "t" * 40}):
        response = Client().get("/metrics", **headers)
        assert response.status_code == 403
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "metrics.forbidden"
    customer = Client()
    customer.force_login(UserFactory())
    assert customer.get("/metrics").status_code == 403


def test_metrics_answer_the_token_staff_and_allowed_addresses(enabled):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'t' * 40}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")  # exposition format
    text = response.content.decode()
    assert "marketplace_outbox_pending_events 0.0" in text
    assert "marketplace_http_requests_total" in text

    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get("/metrics").status_code == 200

    enabled.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics").status_code == 403
    # Behind one proxy the client is the last X-Forwarded-For entry; a forged earlier one is not.
    enabled.REST_FRAMEWORK = {**enabled.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxied = Client(REMOTE_ADDR="127.0.0.1")
    assert proxied.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert proxied.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3, 192.0.2.9").status_code == 403


def test_requests_are_counted_by_route_status_latency_and_queries(enabled):
    connection.ensure_connection()
    metrics._wrap_connection(None, connection)
    try:
        labels = {"method": "GET", "route": "api/v1/products/<str:ident>", "status": "404"}
        before = value("marketplace_http_requests_total", labels)
        route = {"route": "api/v1/products/<str:ident>"}
        queries_before = value("marketplace_http_request_db_queries_sum", route)
        latency = {"method": "GET", "route": "api/v1/products/<str:ident>"}
        observed = value("marketplace_http_request_duration_seconds_count", latency)
        response = Client().get("/api/v1/products/no-such-product")
        assert response.status_code == 404
        assert value("marketplace_http_requests_total", labels) == before + 1
        assert value("marketplace_http_request_duration_seconds_count", latency) == observed + 1
        assert value("marketplace_http_request_db_queries_sum", route) > queries_before
        unknown = {"method": "GET", "route": "<unmatched>", "status": "404"}
        before = value("marketplace_http_requests_total", unknown)
        Client().get("/api/v1/nothing/here")
        assert value("marketplace_http_requests_total", unknown) == before + 1
    finally:
        connection.execute_wrappers.remove(metrics._count_query)


def test_stock_outs_and_refusals_are_counted(django_capture_on_commit_callbacks):
    item = StockItemFactory(on_hand=2, reserved=0)
    outs, refusals = (
        value("marketplace_stock_outs_total"),
        value("marketplace_stock_refusals_total"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(item.variant_id, 1)])
    assert value("marketplace_stock_outs_total") == outs  # 1 left: no stock-out
    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(item.variant_id, 1)])
    assert value("marketplace_stock_outs_total") == outs + 1
    with pytest.raises(InsufficientStock):
        stock_reserve(lines=[StockLine(item.variant_id, 1)])
    assert value("marketplace_stock_refusals_total") == refusals + 1


def test_catalog_cache_lookups_are_counted_as_hits_and_misses():
    from tests.catalog.factories import make_product

    product = make_product(ShopFactory(), stock=3)
    hit, miss = {"cache": "detail", "result": "hit"}, {"cache": "detail", "result": "miss"}
    hits, misses = (
        value("marketplace_catalog_cache_lookups_total", hit),
        value("marketplace_catalog_cache_lookups_total", miss),
    )
    assert Client().get(f"/api/v1/products/{product.pk}").status_code == 200
    assert Client().get(f"/api/v1/products/{product.pk}").status_code == 200
    assert value("marketplace_catalog_cache_lookups_total", miss) == misses + 1
    assert value("marketplace_catalog_cache_lookups_total", hit) == hits + 1


def test_outbox_lag_is_the_pending_count_and_the_oldest_age():
    OutboxEvent.objects.create(topic="t", key="k", type="x.y", published_at=timezone.now())
    OutboxEvent.objects.create(
        topic="t", key="k", type="x.y", occurred_at=timezone.now() - timedelta(seconds=30)
    )
    OutboxEvent.objects.create(topic="t", key="k", type="x.y")
    pending, age = (family.samples[0].value for family in outbox_lag())
    assert pending == 2
    assert 30 <= age < 60


def test_queue_depths_say_when_the_broker_cannot_be_asked(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert list(queue_depths()) == []  # eager: there is no broker
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    depths, up = queue_depths()
    assert depths.samples == []
    assert up.samples[0].value == 0


def test_a_failing_scrape_collector_leaves_only_its_own_metrics_out(enabled):
    def broken():
        raise RuntimeError("down")
        yield  # pragma: no cover

    metrics.register_scrape_collector(broken)
    try:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'t' * 40}")
    finally:
        metrics._scrape_collectors.remove(broken)
    assert response.status_code == 200
    assert "marketplace_outbox_pending_events" in response.content.decode()
