import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from apps.events.models import OutboxEvent
from apps.shops.models import Shop, ShopFollow
from tests.assertions import assert_problem, pointers
from tests.conftest import auth_client
from tests.media.factories import MediaAssetFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

SHOP_KEYS = {
    "id",
    "name",
    "slug",
    "description",
    "logo",
    "status",
    "product_count",
    "follower_count",
    "rating_avg",
    "rating_count",
    "shipping_fee",
    "free_shipping_threshold",
    "currency",
    "created_at",
}


# --- public list and detail


def test_shop_list_shows_active_shops_only(api_client):
    active = ShopFactory(name="Alpha")
    ShopFactory(name="Beta", status=Shop.Status.SUSPENDED)
    response = api_client.get("/api/v1/shops")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    [shop] = body["results"]
    assert set(shop) == SHOP_KEYS
    assert shop["id"] == str(active.pk)
    assert shop["shipping_fee"] == "0.00"
    assert shop["rating_avg"] == "0.00"
    assert shop["currency"] == "USD"
    assert shop["logo"] is None


def test_shop_list_paginates_and_searches(api_client):
    for number in range(5):
        ShopFactory(name=f"Garden {number}")
    ShopFactory(name="Bikes", description="two wheels")
    page = api_client.get("/api/v1/shops", {"page_size": 2, "page": 2}).json()
    assert page["count"] == 6
    assert len(page["results"]) == 2
    assert page["next"] is not None
    assert page["previous"] is not None
    found = api_client.get("/api/v1/shops", {"search": "WHEELS"}).json()
    assert [s["name"] for s in found["results"]] == ["Bikes"]


def test_shop_list_query_count_is_constant(api_client, django_assert_num_queries):
    ShopFactory(logo=MediaAssetFactory())
    # count + page of shops with logo
    with django_assert_num_queries(2):
        assert api_client.get("/api/v1/shops").json()["count"] == 1
    for n in range(11):
        ShopFactory(logo=MediaAssetFactory() if n % 2 else None)
    ShopFactory(status=Shop.Status.SUSPENDED)
    with django_assert_num_queries(2):
        response = api_client.get("/api/v1/shops")
    assert response.json()["count"] == 12
    assert sum(shop["logo"] is not None for shop in response.json()["results"]) == 6


def test_shop_detail_by_slug_and_id(api_client):
    shop = ShopFactory(shipping_fee=Decimal("4.50"), free_shipping_threshold=Decimal("50"))
    by_slug = api_client.get(f"/api/v1/shops/{shop.slug}")
    by_id = api_client.get(f"/api/v1/shops/{shop.pk}")
    assert by_slug.status_code == 200
    assert by_slug.json() == by_id.json()
    body = by_slug.json()
    assert body["shipping_fee"] == "4.50"
    assert body["free_shipping_threshold"] == "50.00"


def test_shop_detail_logo_is_asset(api_client):
    asset = MediaAssetFactory()
    shop = ShopFactory(owner=asset.owner, logo=asset)
    logo = api_client.get(f"/api/v1/shops/{shop.slug}").json()["logo"]
    assert logo["id"] == str(asset.pk)
    assert logo["url"]
    assert logo["content_type"] == "image/png"


def test_suspended_shop_is_404_except_to_owner_and_staff(api_client, staff_client):
    shop = ShopFactory(status=Shop.Status.SUSPENDED)
    assert_problem(api_client.get(f"/api/v1/shops/{shop.slug}"), 404, "shop.not_found")
    stranger = auth_client(UserFactory())
    assert_problem(stranger.get(f"/api/v1/shops/{shop.slug}"), 404, "shop.not_found")
    assert auth_client(shop.owner).get(f"/api/v1/shops/{shop.slug}").status_code == 200
    assert staff_client.get(f"/api/v1/shops/{shop.slug}").status_code == 200


def test_unknown_shop_is_404(api_client):
    assert_problem(api_client.get("/api/v1/shops/no-such-shop"), 404, "shop.not_found")
    assert_problem(
        api_client.get("/api/v1/shops/6f1c1c9e-0000-4000-8000-000000000000"), 404, "shop.not_found"
    )


# --- create


def test_create_shop_makes_caller_a_seller(user, user_client):
    response = user_client.post(
        "/api/v1/shops",
        {
            "name": "Café Ünïcode & Co",
            "description": "Beans",
            "shipping_fee": "3.00",
            "free_shipping_threshold": "40.00",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "cafe-unicode-co"
    assert body["shipping_fee"] == "3.00"
    assert body["follower_count"] == 0
    shop = Shop.objects.get(pk=body["id"])
    assert shop.owner == user
    assert user_client.get("/api/v1/me").json()["roles"] == ["customer", "seller"]


def test_create_shop_slug_is_unique(user_client):
    ShopFactory(name="Corner Store", slug="corner-store")
    ShopFactory(name="Corner Store 2", slug="corner-store-2")
    response = user_client.post("/api/v1/shops", {"name": "Corner Store"})
    assert response.status_code == 201
    assert response.json()["slug"] == "corner-store-3"


def test_create_shop_ignores_counters_and_status(user_client):
    response = user_client.post(
        "/api/v1/shops",
        {
            "name": "Honest",
            "follower_count": 1000,
            "rating_avg": "5.00",
            "status": "suspended",
            "slug": "chosen",
            "owner": "someone",
        },
    )
    assert response.status_code == 201
    shop = Shop.objects.get()
    assert (shop.follower_count, shop.rating_avg, shop.status) == (0, Decimal("0.00"), "active")
    assert shop.slug == "honest"


def test_second_shop_is_409(user):
    ShopFactory(owner=user)
    response = auth_client(user).post("/api/v1/shops", {"name": "Another"})
    assert_problem(response, 409, "shop.already_exists")
    assert Shop.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "x" * 121}, "/name"),
        ({"name": "Shop\r\nBcc: x@example.com"}, "/name"),
        ({"name": "Ok", "description": "x" * 5001}, "/description"),
        ({"name": "Ok", "shipping_fee": "-1.00"}, "/shipping_fee"),
        ({"name": "Ok", "shipping_fee": "abc"}, "/shipping_fee"),
        ({"name": "Ok", "free_shipping_threshold": "-5"}, "/free_shipping_threshold"),
    ],
)
def test_create_shop_validation(user_client, payload, pointer):
    body = assert_problem(user_client.post("/api/v1/shops", payload), 400, "invalid")
    assert pointers(body) == {pointer}
    assert not Shop.objects.exists()


def test_create_shop_requires_authentication(api_client):
    assert_problem(api_client.post("/api/v1/shops", {"name": "X"}), 401, "auth.not_authenticated")


# --- update


def test_seller_updates_own_shop(user):
    shop = ShopFactory(owner=user)
    asset = MediaAssetFactory(owner=user)
    response = auth_client(user).patch(
        f"/api/v1/shops/{shop.slug}",
        {"name": "Renamed", "shipping_fee": "2.50", "logo_id": str(asset.pk)},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["slug"] == shop.slug  # links keep working
    assert body["logo"]["id"] == str(asset.pk)
    shop.refresh_from_db()
    assert (shop.name, shop.shipping_fee, shop.logo_id) == ("Renamed", Decimal("2.50"), asset.pk)


def test_logo_can_be_removed(user):
    asset = MediaAssetFactory(owner=user)
    shop = ShopFactory(owner=user, logo=asset)
    response = auth_client(user).patch(f"/api/v1/shops/{shop.pk}", {"logo_id": None})
    assert response.status_code == 200
    assert response.json()["logo"] is None


def test_logo_owned_by_someone_else_is_400(user):
    shop = ShopFactory(owner=user)
    foreign = MediaAssetFactory()
    response = auth_client(user).patch(f"/api/v1/shops/{shop.slug}", {"logo_id": str(foreign.pk)})
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/logo_id"}
    shop.refresh_from_db()
    assert shop.logo_id is None


def test_update_ignores_counters(user):
    shop = ShopFactory(owner=user)
    response = auth_client(user).patch(
        f"/api/v1/shops/{shop.slug}",
        {"follower_count": 99, "product_count": 5, "status": "suspended", "slug": "new"},
    )
    assert response.status_code == 200
    shop.refresh_from_db()
    assert (shop.follower_count, shop.product_count, shop.status) == (0, 0, "active")
    assert shop.slug != "new"


def test_staff_may_update_any_shop(staff_client):
    shop = ShopFactory()
    response = staff_client.patch(f"/api/v1/shops/{shop.slug}", {"description": "Moderated"})
    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.description == "Moderated"


def test_other_seller_cannot_update(user_client):
    shop = ShopFactory(name="Theirs")
    response = user_client.patch(f"/api/v1/shops/{shop.slug}", {"name": "Mine now"})
    assert_problem(response, 403, "shop.not_owner")
    shop.refresh_from_db()
    assert shop.name == "Theirs"


def test_update_requires_authentication(api_client):
    shop = ShopFactory()
    assert_problem(
        api_client.patch(f"/api/v1/shops/{shop.slug}", {"name": "X"}),
        401,
        "auth.not_authenticated",
    )


def test_update_validation(user):
    shop = ShopFactory(owner=user)
    response = auth_client(user).patch(
        f"/api/v1/shops/{shop.slug}", {"shipping_fee": "-0.01", "logo_id": "nope"}
    )
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/shipping_fee", "/logo_id"}


def test_update_refuses_a_shop_name_with_a_line_break(user):
    """Follower emails carry the shop name in their subject: a CR/LF there broke them."""
    shop = ShopFactory(owner=user, name="Corner")
    response = auth_client(user).patch(f"/api/v1/shops/{shop.slug}", {"name": "Corner\nShop"})
    body = assert_problem(response, 400, "invalid")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("/name", "control_characters")]
    shop.refresh_from_db()
    assert shop.name == "Corner"


def test_update_unknown_shop_is_404(user_client):
    assert_problem(user_client.patch("/api/v1/shops/nope", {"name": "X"}), 404, "shop.not_found")


# --- follow


def test_follow_is_idempotent_and_counts_once(user, user_client):
    shop = ShopFactory()
    assert user_client.post(f"/api/v1/shops/{shop.slug}/follow").status_code == 204
    assert user_client.post(f"/api/v1/shops/{shop.slug}/follow").status_code == 204
    shop.refresh_from_db()
    assert shop.follower_count == 1
    assert ShopFollow.objects.filter(shop=shop, user=user).count() == 1
    [event] = OutboxEvent.objects.filter(type="shop.followed")
    assert event.key == str(shop.pk)
    assert event.payload == {
        "shop_id": str(shop.pk),
        "user_id": str(user.pk),
        "seller_id": str(shop.owner_id),
    }


def test_unfollow_is_idempotent(user, user_client):
    shop = ShopFactory()
    user_client.post(f"/api/v1/shops/{shop.pk}/follow")
    assert user_client.delete(f"/api/v1/shops/{shop.pk}/follow").status_code == 204
    assert user_client.delete(f"/api/v1/shops/{shop.pk}/follow").status_code == 204
    shop.refresh_from_db()
    assert shop.follower_count == 0
    assert not ShopFollow.objects.exists()


def test_follower_count_tracks_many_users():
    shop = ShopFactory()
    clients = [auth_client(UserFactory()) for _ in range(3)]
    for client in clients:
        client.post(f"/api/v1/shops/{shop.slug}/follow")
    clients[0].delete(f"/api/v1/shops/{shop.slug}/follow")
    response = clients[1].get(f"/api/v1/shops/{shop.slug}")
    assert response.json()["follower_count"] == 2


def test_following_own_shop_is_422(user):
    shop = ShopFactory(owner=user)
    response = auth_client(user).post(f"/api/v1/shops/{shop.slug}/follow")
    assert_problem(response, 422, "shop.self_follow")
    shop.refresh_from_db()
    assert shop.follower_count == 0
    assert not OutboxEvent.objects.filter(type="shop.followed").exists()


def test_follow_requires_authentication(api_client):
    shop = ShopFactory()
    assert_problem(
        api_client.post(f"/api/v1/shops/{shop.slug}/follow"), 401, "auth.not_authenticated"
    )
    assert_problem(
        api_client.delete(f"/api/v1/shops/{shop.slug}/follow"), 401, "auth.not_authenticated"
    )


def test_follow_unknown_or_suspended_shop_is_404(user_client):
    suspended = ShopFactory(status=Shop.Status.SUSPENDED)
    assert_problem(user_client.post("/api/v1/shops/nope/follow"), 404, "shop.not_found")
    assert_problem(
        user_client.post(f"/api/v1/shops/{suspended.slug}/follow"), 404, "shop.not_found"
    )
    assert not ShopFollow.objects.exists()


# --- slugs never read as ids (apps.core.slugs)

UUID_HEX = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "name", [UUID_HEX, "01234567-89ab-cdef-0123-456789abcdef", "{0123456789ABCDEF0123456789ABCDEF}"]
)
def test_a_shop_named_like_an_id_gets_a_slug_that_is_not_one(user_client, name):
    response = user_client.post("/api/v1/shops", {"name": name})

    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == f"{slugify(name)}-2"
    detail = user_client.get(f"/api/v1/shops/{body['slug']}")
    assert detail.status_code == 200
    assert detail.json() == body


def test_numbering_skips_a_slug_that_would_read_as_an_id(api_client, user_client):
    base = UUID_HEX[:-1]  # 31 hex digits: "-2" to "-9" would make 32
    ShopFactory(name=base, slug=base)

    response = user_client.post("/api/v1/shops", {"name": base})

    assert response.status_code == 201
    assert response.json()["slug"] == f"{base}-10"
    detail = api_client.get(f"/api/v1/shops/{base}-10")
    assert detail.status_code == 200
    assert detail.json()["id"] == response.json()["id"]


def test_a_shop_with_an_id_looking_slug_from_before_is_found_by_it(api_client):
    legacy = ShopFactory(slug=UUID_HEX)

    response = api_client.get(f"/api/v1/shops/{UUID_HEX}")

    assert response.status_code == 200
    assert response.json()["id"] == str(legacy.pk)
    assert response.json()["slug"] == UUID_HEX
    assert auth_client(legacy.owner).post(f"/api/v1/shops/{UUID_HEX}/follow").status_code == 422


def test_an_id_wins_over_a_slug_that_looks_like_it(api_client):
    owner = ShopFactory(id=uuid.UUID(UUID_HEX))
    ShopFactory(name="Aaa impostor", slug=UUID_HEX)  # sorts first by name

    for ident in (UUID_HEX, str(owner.pk)):
        response = api_client.get(f"/api/v1/shops/{ident}")
        assert response.status_code == 200
        assert response.json()["id"] == str(owner.pk)


def test_the_model_refuses_an_id_looking_slug(user):
    shop = Shop(owner=user, name="X", slug=UUID_HEX)
    with pytest.raises(ValidationError) as caught:
        shop.full_clean()
    assert caught.value.error_dict["slug"][0].code == "slug_is_uuid"
    assert not Shop.objects.exists()
