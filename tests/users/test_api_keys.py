import hashlib
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, override_settings
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.catalog.models import Product
from apps.core.models import IdempotencyRecord
from apps.users.models import ApiKey
from apps.users.services.api_keys import api_key_create, api_key_revoke
from tests.assertions import assert_problem, pointers
from tests.conftest import auth_client
from tests.services import need_redis
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- staff endpoints


def test_staff_creates_key_shown_once(staff, staff_client):
    response = staff_client.post(
        "/api/v1/api-keys", {"name": "storefront", "scopes": ["catalog:read"], "rate": "500/min"}
    )
    assert response.status_code == 201
    body = response.json()
    prefix, _, secret = body["key"].partition(".")
    assert prefix == body["prefix"]
    assert prefix.startswith("mk_")
    assert len(secret) >= 40
    key = ApiKey.objects.get(pk=body["id"])
    assert key.hashed_secret == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in key.hashed_secret
    assert key.created_by == staff
    assert (key.scopes, key.rate) == (["catalog:read"], "500/min")

    listing = staff_client.get("/api/v1/api-keys").json()
    assert listing["count"] == 1
    [row] = listing["results"]
    assert "key" not in row
    assert "hashed_secret" not in row
    assert row["prefix"] == prefix
    assert row["created_by"] == staff.email
    assert row["revoked_at"] is None


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "/name"),
        ({"name": "x", "rate": "lots"}, "/rate"),
        ({"name": "x", "rate": "0/min"}, "/rate"),
        ({"name": "x", "scopes": "catalog"}, "/scopes"),
        ({"name": "x", "scopes": ["Bad Scope!"]}, "/scopes/0"),
        ({"name": "x", "scopes": ["catalog:read", "catalog:delete"]}, "/scopes/1"),
        ({"name": "x", "scopes": ["warehouse:read"]}, "/scopes/0"),
    ],
)
def test_create_key_validation(staff_client, payload, pointer):
    body = assert_problem(staff_client.post("/api/v1/api-keys", payload), 400, "invalid")
    assert pointers(body) == {pointer}
    assert not ApiKey.objects.exists()


def test_revoke_key(staff_client):
    key, _ = api_key_create(name="old")
    response = staff_client.delete(f"/api/v1/api-keys/{key.pk}")
    assert response.status_code == 204
    key.refresh_from_db()
    first_revocation = key.revoked_at
    assert first_revocation is not None
    assert staff_client.delete(f"/api/v1/api-keys/{key.pk}").status_code == 204
    key.refresh_from_db()
    assert key.revoked_at == first_revocation


def test_revoke_unknown_key_is_404(staff_client):
    response = staff_client.delete("/api/v1/api-keys/6f1c1c9e-0000-4000-8000-000000000000")
    assert_problem(response, 404, "api_key.not_found")


def test_non_staff_gets_403(user_client):
    key, _ = api_key_create(name="k")
    assert_problem(user_client.get("/api/v1/api-keys"), 403, "permission_denied")
    assert_problem(user_client.post("/api/v1/api-keys", {"name": "x"}), 403, "permission_denied")
    assert_problem(user_client.delete(f"/api/v1/api-keys/{key.pk}"), 403, "permission_denied")
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_anonymous_gets_401(api_client):
    key, _ = api_key_create(name="k")
    assert_problem(api_client.get("/api/v1/api-keys"), 401, "auth.not_authenticated")
    assert_problem(
        api_client.post("/api/v1/api-keys", {"name": "x"}), 401, "auth.not_authenticated"
    )
    assert_problem(api_client.delete(f"/api/v1/api-keys/{key.pk}"), 401, "auth.not_authenticated")


def test_api_key_list_query_count_is_constant(staff, staff_client, django_assert_num_queries):
    api_key_create(name="first", created_by=staff)
    # caller + count + page of keys with their creator
    with django_assert_num_queries(3):
        assert staff_client.get("/api/v1/api-keys").json()["count"] == 1
    for number in range(10):
        creator = UserFactory(is_staff=True) if number % 3 else None
        api_key_create(name=f"more{number}", created_by=creator)
    with django_assert_num_queries(3):
        results = staff_client.get("/api/v1/api-keys").json()["results"]
    assert len(results) == 11
    assert sum(key["created_by"] is None for key in results) == 4
    assert len({key["created_by"] for key in results}) == 8


# --- middleware


@override_settings(REQUIRE_API_KEY=True)
def test_required_key_missing_is_401(api_client):
    response = api_client.get("/api/v1/shops")
    body = assert_problem(response, 401, "auth.invalid_api_key")
    assert "X-Api-Key" in body["detail"]
    assert response["X-Request-Id"]


@override_settings(REQUIRE_API_KEY=True)
def test_required_key_valid_passes_and_is_touched(api_client):
    key, raw = api_key_create(name="web")
    response = api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw)
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


@override_settings(REQUIRE_API_KEY=True)
def test_last_used_at_is_written_at_most_once_a_minute(api_client):
    key, raw = api_key_create(name="web")
    recent = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw)
    key.refresh_from_db()
    assert key.last_used_at == recent
    stale = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw)
    key.refresh_from_db()
    assert key.last_used_at > stale


@pytest.mark.parametrize("require", [True, False])
def test_wrong_or_revoked_key_is_401_even_when_optional(api_client, require):
    key, raw = api_key_create(name="web")
    prefix, _, secret = raw.partition(".")
    with override_settings(REQUIRE_API_KEY=require):
        for bad in (f"{prefix}.{secret[:-1]}x", "mk_unknown.secret", "no-dot", f"{prefix}."):
            assert_problem(
                api_client.get("/api/v1/shops", HTTP_X_API_KEY=bad), 401, "auth.invalid_api_key"
            )
        api_key_revoke(key_id=key.pk)
        assert_problem(
            api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw), 401, "auth.invalid_api_key"
        )


def test_missing_key_is_fine_when_not_required(api_client):
    assert api_client.get("/api/v1/shops").status_code == 200


@override_settings(REQUIRE_API_KEY=True)
def test_liveness_docs_and_preflight_stay_open(api_client):
    assert api_client.get("/api/v1/health/live").status_code == 200
    assert api_client.get("/api/schema/").status_code == 200
    assert api_client.options("/api/v1/shops").status_code != 401


@override_settings(REQUIRE_API_KEY=True)
def test_key_works_alongside_bearer_token(api_client):
    user = UserFactory()
    _, raw = api_key_create(name="app")
    client = auth_client(user)
    assert_problem(client.get("/api/v1/me"), 401, "auth.invalid_api_key")
    assert client.get("/api/v1/me", HTTP_X_API_KEY=raw).status_code == 200


def test_per_key_rate_is_enforced(api_client):
    _, raw = api_key_create(name="tiny", rate="2/min")
    _, other = api_key_create(name="big")
    for _ in range(2):
        assert api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw).status_code == 200
    assert_problem(api_client.get("/api/v1/shops", HTTP_X_API_KEY=raw), 429, "throttled")
    assert api_client.get("/api/v1/shops", HTTP_X_API_KEY=other).status_code == 200


# --- command


def test_create_api_key_command_prints_key_once(capsys):
    call_command(
        "create_api_key", "partner", "--rate", "100/min", "--scopes", "orders:read, cart:write"
    )
    out = capsys.readouterr().out
    key = ApiKey.objects.get()
    raw = next(line for line in out.splitlines() if line.startswith(key.prefix + "."))
    assert (key.name, key.rate, key.scopes) == ("partner", "100/min", ["orders:read", "cart:write"])
    secret = raw.partition(".")[2]
    assert key.hashed_secret == hashlib.sha256(secret.encode()).hexdigest()


def test_create_api_key_command_rejects_an_unknown_scope():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="scopes"):
        call_command("create_api_key", "partner", "--scopes", "orders:read,a")
    assert not ApiKey.objects.exists()


def test_create_api_key_command_rejects_bad_rate():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="rate"):
        call_command("create_api_key", "partner", "--rate", "fast")
    assert not ApiKey.objects.exists()


# --- paths without key handling


@pytest.mark.parametrize("require", [True, False])
def test_liveness_ignores_any_key_and_touches_nothing(
    api_client, require, django_assert_num_queries
):
    key, raw = api_key_create(name="probe")
    prefix = raw.partition(".")[0]
    api_key_revoke(key_id=key.pk)
    with override_settings(REQUIRE_API_KEY=require):
        for sent in (raw, f"{prefix}.wrong", "garbage"):
            with django_assert_num_queries(0):
                response = api_client.get("/api/v1/health/live", HTTP_X_API_KEY=sent)
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}


def test_liveness_does_not_record_a_valid_keys_use(api_client):
    key, raw = api_key_create(name="probe")
    assert api_client.get("/api/v1/health/live", HTTP_X_API_KEY=raw).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is None


@override_settings(REQUIRE_API_KEY=True)
def test_the_notification_stream_needs_its_ticket_not_a_key(api_client):
    need_redis()
    user = UserFactory()
    _, raw = api_key_create(name="web")
    # the ticket is issued to a request that carries the key
    assert_problem(
        auth_client(user).post("/api/v1/notifications/stream-ticket"), 401, "auth.invalid_api_key"
    )
    issued = auth_client(user).post("/api/v1/notifications/stream-ticket", HTTP_X_API_KEY=raw)
    assert issued.status_code == 201

    # EventSource sends no headers: the ticket alone opens the stream (served by the ASGI app
    # only: the WSGI app answers 503 there)
    stream = async_to_sync(AsyncClient().get)
    response = stream(issued.json()["url"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    # a bad ticket is the stream's own 401, not the key's
    assert_problem(
        stream("/api/v1/notifications/stream", {"ticket": "spent"}),
        401,
        "notification.invalid_ticket",
    )


@pytest.mark.parametrize("require", [True, False])
def test_a_key_sent_to_the_notification_stream_is_still_checked(api_client, require):
    with override_settings(REQUIRE_API_KEY=require):
        response = api_client.get(
            "/api/v1/notifications/stream", {"ticket": "x"}, HTTP_X_API_KEY="mk_unknown.secret"
        )
    assert_problem(response, 401, "auth.invalid_api_key")


# --- Idempotency-Key: the secret is never kept for replays


def test_an_idempotent_key_creation_never_stores_the_secret(staff_client):
    first = staff_client.post(
        "/api/v1/api-keys", {"name": "storefront"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    secret = first.json()["key"].partition(".")[2]

    (record,) = IdempotencyRecord.objects.all()
    stored = bytes(record.body)
    assert first.json()["prefix"].encode() in stored
    assert secret.encode() not in stored

    replay = staff_client.post(
        "/api/v1/api-keys", {"name": "storefront"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == {**first.json(), "key": None}
    assert ApiKey.objects.count() == 1


def test_the_schema_documents_the_blank_key_on_replay():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/api-keys"]["post"]
    assert "`key` null" in operation["description"]
    assert "Idempotent-Replayed: true" in operation["description"]
    created = schema["components"]["schemas"]["ApiKeyCreatedOutput"]["properties"]["key"]
    assert created["nullable"] is True


# --- scopes: a scoped key reaches only its areas (the app serving the endpoint)


def scoped(*scopes: str) -> str:
    return api_key_create(name="scoped", scopes=list(scopes))[1]


def assert_out_of_scope(response, needed: str) -> None:
    body = assert_problem(response, 403, "auth.api_key_scope")
    assert body["needed"] == needed
    assert body["title"] == "Outside the API key's scopes"


def test_a_read_scope_allows_reads_of_its_area_only(api_client):
    raw = scoped("catalog:read")
    seller = ShopFactory().owner
    client = auth_client(seller)
    assert api_client.get("/api/v1/products", HTTP_X_API_KEY=raw).status_code == 200
    assert api_client.get("/api/v1/product-types", HTTP_X_API_KEY=raw).status_code == 200
    assert_out_of_scope(
        client.post("/api/v1/products", {"name": "x"}, format="json", HTTP_X_API_KEY=raw),
        "catalog:write",
    )
    assert_out_of_scope(api_client.get("/api/v1/cart", HTTP_X_API_KEY=raw), "cart:read")
    assert_out_of_scope(client.get("/api/v1/orders", HTTP_X_API_KEY=raw), "orders:read")
    assert not Product.objects.exists()
    # health is outside every area
    assert api_client.get("/api/v1/health", HTTP_X_API_KEY=raw).status_code in (200, 503)


def test_a_write_scope_includes_reading(api_client):
    raw = scoped("cart:write", "catalog:read")
    assert api_client.get("/api/v1/cart", HTTP_X_API_KEY=raw).status_code == 200
    response = api_client.post(
        "/api/v1/cart/items", {"variant_id": str(uuid.uuid4()), "quantity": 1}, HTTP_X_API_KEY=raw
    )
    assert response.status_code == 404  # past the scope check, to the view
    assert_out_of_scope(
        api_client.post("/api/v1/auth/login", {}, HTTP_X_API_KEY=raw), "users:write"
    )


def test_the_shops_endpoints_stay_in_the_users_area(api_client):
    # Shops moved from the users app to an app of their own; keys scoped before keep reaching them.
    shop = ShopFactory()
    users_read = scoped("users:read")
    assert api_client.get("/api/v1/shops", HTTP_X_API_KEY=users_read).status_code == 200
    assert (
        api_client.get(f"/api/v1/shops/{shop.slug}", HTTP_X_API_KEY=users_read).status_code == 200
    )
    assert_out_of_scope(
        auth_client(UserFactory()).post(
            f"/api/v1/shops/{shop.slug}/follow", HTTP_X_API_KEY=users_read
        ),
        "users:write",
    )
    assert_out_of_scope(
        api_client.get("/api/v1/shops", HTTP_X_API_KEY=scoped("catalog:read")), "users:read"
    )


def test_a_key_without_scopes_reaches_everything(api_client):
    raw = scoped()
    assert api_client.get("/api/v1/cart", HTTP_X_API_KEY=raw).status_code == 200
    assert api_client.get("/api/v1/products", HTTP_X_API_KEY=raw).status_code == 200
    response = api_client.post("/api/v1/auth/login", {}, HTTP_X_API_KEY=raw)
    assert response.status_code == 400


def test_every_area_has_its_scopes_and_every_api_view_an_area():
    from django.urls import get_resolver
    from django.urls.resolvers import URLResolver

    from apps.users.services.api_keys import API_KEY_AREAS, API_KEY_SCOPES, api_key_area

    assert len(API_KEY_SCOPES) == 2 * len(API_KEY_AREAS)

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    for route, view in walk(get_resolver().url_patterns):
        # The index and the health probes are open to every key, like the docs.
        if (
            not route.startswith("api/v1/")
            or route == "api/v1/"
            or route.startswith("api/v1/health")
        ):
            continue
        module = getattr(view, "cls", getattr(view, "view_class", view)).__module__
        assert api_key_area(module) in API_KEY_AREAS, route
