"""The webhooks API: who may do what (owner OK, another user 404, anonymous 401, a buyer without
a shop 403), the URL guard, limits, pagination, rotation, ping and retry."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory
from tests.webhooks.conftest import endpoint_for

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS needed
PROBLEM = "application/problem+json"


@pytest.fixture
def seller_client(seller):
    return auth_client(seller)


@pytest.fixture
def endpoint(seller):
    return endpoint_for(seller, PUBLIC_URL, ["order.placed"], "ERP")


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == code
    return body


# --- create ---


def test_a_seller_registers_a_shop_endpoint_and_sees_its_secret_once(seller_client, shop):
    response = seller_client.post(
        "/api/v1/webhooks",
        {"url": PUBLIC_URL, "events": ["order.placed", "stock.low"], "description": "ERP"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_")
    assert {k: body[k] for k in ("id", "url", "events", "scope", "shop", "enabled")} == {
        "id": str(endpoint.pk),
        "url": PUBLIC_URL,
        "events": ["order.placed", "stock.low"],
        "scope": "shop",
        "shop": str(shop.pk),
        "enabled": True,
    }
    # Never again: not in the detail nor in the list.
    assert "secret" not in seller_client.get(f"/api/v1/webhooks/{endpoint.pk}").json()
    assert "secret" not in seller_client.get("/api/v1/webhooks").json()["results"][0]


def test_staff_register_platform_endpoints_for_any_event(staff_user):
    response = auth_client(staff_user).post(
        "/api/v1/webhooks",
        {"url": PUBLIC_URL, "events": ["payment.failed", "order.placed"]},
        format="json",
    )

    assert response.status_code == 201
    assert (response.json()["scope"], response.json()["shop"]) == ("platform", None)
    assert WebhookEndpoint.objects.get().shop is None


def test_a_seller_cannot_subscribe_to_platform_only_events(seller_client):
    response = seller_client.post(
        "/api/v1/webhooks",
        {"url": PUBLIC_URL, "events": ["order.placed", "payment.refunded"]},
        format="json",
    )

    body = problem(response, 400, "webhook.event_not_available")
    assert [e["pointer"] for e in body["errors"]] == ["/events/1"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("events", "pointer"),
    [(["order.exploded"], "/events/0"), ([], "/events"), ("order.placed", "/events")],
)
def test_event_lists_are_checked(seller_client, events, pointer):
    response = seller_client.post(
        "/api/v1/webhooks", {"url": PUBLIC_URL, "events": events}, format="json"
    )

    assert response.status_code == 400
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # not https
        "https://127.0.0.1/hooks",  # loopback
        "https://localhost/hooks",
        "https://10.0.0.8/hooks",  # private
        "https://192.168.1.1/hooks",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",  # a private IPv4 address inside IPv6
        "https://user:pw@93.184.215.14/hooks",  # credentials
        "ftp://93.184.215.14/hooks",
        "not a url",
    ],
)
def test_the_ssrf_guard_refuses_targets_that_are_not_public_https(seller_client, settings, url):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = seller_client.post(
        "/api/v1/webhooks", {"url": url, "events": ["order.placed"]}, format="json"
    )

    body = problem(response, 400, "webhook.invalid_url")
    assert [e["pointer"] for e in body["errors"]] == ["/url"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["https://10.0.0.8/hooks", "http://169.254.169.254/"])
def test_allowing_loopback_still_refuses_private_addresses(seller_client, settings, url):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    response = seller_client.post(
        "/api/v1/webhooks", {"url": url, "events": ["order.placed"]}, format="json"
    )

    problem(response, 400, "webhook.invalid_url")


def test_allowing_loopback_admits_http_loopback_targets(seller_client, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    response = seller_client.post(
        "/api/v1/webhooks",
        {"url": "http://127.0.0.1:25001/hooks", "events": ["order.placed"]},
        format="json",
    )

    assert response.status_code == 201


def test_the_guard_is_checked_again_at_delivery_time(
    receiver, seller, shop, settings, django_capture_on_commit_callbacks
):
    from apps.events import emit

    endpoint_for(seller, receiver.url(), ["stock.low"])
    settings.WEBHOOKS_ALLOW_LOOPBACK = False  # e.g. a name that now resolves to the loopback

    with django_capture_on_commit_callbacks(execute=True):
        emit("stock.low", "v1", {"shop_id": str(shop.pk)})

    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error.startswith("The URL was refused:")


def test_endpoints_per_shop_are_limited(seller, seller_client, settings):
    settings.WEBHOOKS_MAX_ENDPOINTS_PER_SHOP = 2
    for _ in range(2):
        endpoint_for(seller, PUBLIC_URL, ["order.placed"])

    response = seller_client.post(
        "/api/v1/webhooks", {"url": PUBLIC_URL, "events": ["order.placed"]}, format="json"
    )

    problem(response, 422, "webhook.too_many_endpoints")
    assert WebhookEndpoint.objects.count() == 2
    # Another shop has its own allowance.
    other = ShopFactory()
    assert (
        auth_client(other.owner)
        .post("/api/v1/webhooks", {"url": PUBLIC_URL, "events": ["order.placed"]}, format="json")
        .status_code
        == 201
    )


def test_input_lengths_are_bounded(seller_client):
    response = seller_client.post(
        "/api/v1/webhooks",
        {"url": PUBLIC_URL, "events": ["order.placed"], "description": "x" * 501},
        format="json",
    )

    assert response.status_code == 400
    assert [e["pointer"] for e in response.json()["errors"]] == ["/description"]


# --- who may do what ---


def paths(endpoint_id, delivery_id):
    base = f"/api/v1/webhooks/{endpoint_id}"
    return [
        ("get", base, None),
        ("patch", base, {"description": "changed"}),
        ("post", f"{base}/rotate-secret", None),
        ("post", f"{base}/ping", None),
        ("get", f"{base}/deliveries", None),
        ("post", f"{base}/deliveries/{delivery_id}/retry", None),
        ("delete", base, None),
    ]


def a_failed_delivery(endpoint):
    now = timezone.now()
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-4000-8000-000000000001",
        event_type="order.placed",
        payload={"type": "order.placed"},
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        expires_at=now,
        last_status_code=500,
        last_error="The receiver answered HTTP 500.",
    )


def call(client, method, path, body):
    return getattr(client, method)(path, body, format="json")


def test_anonymous_callers_get_401_everywhere(endpoint):
    delivery = a_failed_delivery(endpoint)
    client = APIClient()
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.post("/api/v1/webhooks", {}, format="json").status_code == 401
    for method, path, body in paths(endpoint.pk, delivery.pk):
        problem(call(client, method, path, body), 401, "auth.not_authenticated")
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, description="ERP").exists()


def test_a_buyer_without_a_shop_gets_403_everywhere(endpoint):
    delivery = a_failed_delivery(endpoint)
    client = auth_client(UserFactory())
    problem(client.get("/api/v1/webhooks"), 403, "permission_denied")
    problem(
        client.post("/api/v1/webhooks", {"url": PUBLIC_URL, "events": ["order.placed"]}),
        403,
        "permission_denied",
    )
    for method, path, body in paths(endpoint.pk, delivery.pk):
        problem(call(client, method, path, body), 403, "permission_denied")
    assert WebhookEndpoint.objects.count() == 1


def test_another_seller_gets_404_and_changes_nothing(endpoint):
    delivery = a_failed_delivery(endpoint)
    secret = endpoint.secret
    client = auth_client(ShopFactory().owner)
    for method, path, body in paths(endpoint.pk, delivery.pk):
        problem(call(client, method, path, body), 404, "webhook.not_found")
    assert client.get("/api/v1/webhooks").json()["count"] == 0
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.secret) == ("ERP", secret)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert WebhookDelivery.objects.count() == 1  # no ping was queued


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_the_owner_and_staff_may_do_everything(who, endpoint, seller, staff_user, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    delivery = a_failed_delivery(endpoint)
    client = auth_client(seller if who == "owner" else staff_user)
    expected = [200, 200, 200, 202, 200, 202, 204]
    statuses = [
        call(client, method, path, body).status_code
        for method, path, body in paths(endpoint.pk, delivery.pk)
    ]
    assert statuses == expected
    assert not WebhookEndpoint.objects.exists()


def test_a_platform_endpoint_is_not_visible_to_sellers(staff_user, seller_client):
    platform = endpoint_for(staff_user, PUBLIC_URL, ["payment.failed"])

    problem(seller_client.get(f"/api/v1/webhooks/{platform.pk}"), 404, "webhook.not_found")
    assert seller_client.get("/api/v1/webhooks").json()["count"] == 0


# --- list, change, delete ---


def test_the_list_is_paginated_newest_first(seller, seller_client, django_assert_max_num_queries):
    made = [endpoint_for(seller, PUBLIC_URL, ["order.placed"], f"n{i}") for i in range(3)]
    endpoint_for(ShopFactory().owner, PUBLIC_URL, ["order.placed"])

    with django_assert_max_num_queries(6):
        first = seller_client.get("/api/v1/webhooks?page_size=2").json()
    second = seller_client.get(first["next"]).json()

    assert first["count"] == 3
    assert [e["description"] for e in first["results"] + second["results"]] == [
        e.description for e in reversed(made)
    ]
    assert second["next"] is None
    assert seller_client.get("/api/v1/webhooks?page_size=1000").status_code == 200  # capped


def test_patch_changes_what_is_given(endpoint, seller_client):
    response = seller_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}",
        {"events": ["order.cancelled"], "description": "new", "enabled": False},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["events"], body["description"], body["enabled"], body["disabled_reason"]) == (
        ["order.cancelled"],
        "new",
        False,
        "manual",
    )
    assert body["url"] == PUBLIC_URL
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "manual")

    response = seller_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}", {"enabled": True}, format="json"
    )
    assert (response.json()["enabled"], response.json()["disabled_reason"]) == (True, "")


def test_patch_refuses_a_bad_url_and_changes_nothing(endpoint, seller_client, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = seller_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}",
        {"url": "https://10.1.2.3/x", "description": "changed"},
        format="json",
    )

    problem(response, 400, "webhook.invalid_url")
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description) == (PUBLIC_URL, "ERP")


def test_delete_removes_the_endpoint_and_its_deliveries(endpoint, seller_client):
    a_failed_delivery(endpoint)

    assert seller_client.delete(f"/api/v1/webhooks/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_rotate_secret_returns_the_new_secret_once(endpoint, seller_client):
    old = endpoint.secret
    before = timezone.now()

    response = seller_client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")

    assert response.status_code == 200
    body = response.json()
    endpoint.refresh_from_db()
    assert body["secret"] == endpoint.secret != old
    assert endpoint.previous_secret == old
    expires = endpoint.previous_secret_expires_at
    assert before + timedelta(hours=24) <= expires <= timezone.now() + timedelta(hours=24)


# --- ping, deliveries, retry ---


def test_ping_queues_a_signed_test_event(
    receiver, seller, seller_client, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["order.placed"])

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(f"/api/v1/webhooks/{endpoint.pk}/ping")

    assert response.status_code == 202
    assert (response.json()["event_type"], response.json()["status"]) == ("webhook.ping", "pending")
    (received,) = receiver.requests
    assert received.json()["type"] == "webhook.ping"
    assert received.headers["x-request-id"] == response["X-Request-Id"]
    listed = seller_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    assert [(d["event_type"], d["status"], d["last_status_code"]) for d in listed] == [
        ("webhook.ping", "succeeded", 200)
    ]


def test_ping_of_a_disabled_endpoint_is_409(endpoint, seller_client):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="gone")

    problem(
        seller_client.post(f"/api/v1/webhooks/{endpoint.pk}/ping"), 409, "webhook.endpoint_disabled"
    )
    assert not WebhookDelivery.objects.exists()


def test_deliveries_are_a_cursor_feed_filtered_by_status(endpoint, seller_client):
    now = timezone.now()
    for index in range(5):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=f"00000000-0000-4000-8000-00000000000{index}",
            event_type="order.placed",
            status="failed" if index % 2 else "succeeded",
            expires_at=now,
        )
    base = f"/api/v1/webhooks/{endpoint.pk}/deliveries"

    first = seller_client.get(f"{base}?page_size=2").json()
    assert set(first) == {"next", "previous", "results"}
    assert len(first["results"]) == 2
    rest = seller_client.get(first["next"]).json()
    rest2 = seller_client.get(rest["next"]).json()
    assert len(first["results"] + rest["results"] + rest2["results"]) == 5
    assert rest2["next"] is None
    failed = seller_client.get(f"{base}?status=failed").json()["results"]
    assert [d["event_id"][-1] for d in failed] == ["3", "1"]
    assert set(failed[0]) == {
        "id",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "last_attempt_at",
        "created_at",
    }
    bad = seller_client.get(f"{base}?status=lost")
    assert bad.status_code == 400
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/status"]


def test_retry_sends_a_failed_delivery_again(
    receiver, seller, seller_client, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(seller, receiver.url(), ["order.placed"])
    delivery = a_failed_delivery(endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(
            f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry"
        )

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    (received,) = receiver.requests
    assert received.headers["webhook-id"] == str(delivery.event_id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 4, 200)


def test_retry_of_a_queued_delivery_is_409_and_changes_nothing(endpoint, seller_client):
    delivery = a_failed_delivery(endpoint)
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry"
    assert seller_client.post(url).status_code == 202  # queued (no commit: the task waits)
    queued = WebhookDelivery.objects.get(pk=delivery.pk)

    problem(seller_client.post(url), 409, "webhook.delivery_in_progress")
    again = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (again.lock_token, again.locked_until) == (queued.lock_token, queued.locked_until)


def test_retry_of_another_endpoints_delivery_is_404(endpoint, seller, seller_client):
    other_endpoint = endpoint_for(seller, PUBLIC_URL, ["order.placed"])
    delivery = a_failed_delivery(other_endpoint)

    response = seller_client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry")

    problem(response, 404, "webhook.delivery_not_found")
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_retry_on_a_disabled_endpoint_is_409(endpoint, seller_client):
    delivery = a_failed_delivery(endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)

    response = seller_client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry")

    problem(response, 409, "webhook.endpoint_disabled")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
