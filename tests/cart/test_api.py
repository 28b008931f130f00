from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.cart.models import Cart, CartItem
from apps.cart.tasks import purge_idle_guest_carts
from apps.catalog.models import Product
from apps.shops.models import Shop
from tests.conftest import auth_client
from tests.inventory.factories import stocked_variant
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart"
ITEMS = "/api/v1/cart/items"
PROBLEM = "application/problem+json"


def _guest(api_client, token):
    api_client.credentials(HTTP_X_CART_TOKEN=token)
    return api_client


def _add(client, variant, quantity=1, **extra):
    return client.post(ITEMS, {"variant_id": str(variant.pk), "quantity": quantity, **extra})


EMPTY_GUEST_CART = {
    "id": None,
    "currency": "USD",
    "shops": [],
    "item_count": 0,
    "subtotal": "0.00",
}


@pytest.mark.parametrize("token", [None, "", "made-up-token"])
def test_guest_get_without_a_cart_is_an_empty_cart_and_writes_nothing(
    api_client, django_assert_num_queries, token
):
    """Each anonymous GET /cart used to insert a cart row; the first added line creates it now."""
    if token is not None:
        _guest(api_client, token)
    with django_assert_num_queries(0 if not token else 1):  # a token is looked up, once
        response = api_client.get(CART)

    assert response.status_code == 200
    assert response.json() == EMPTY_GUEST_CART
    assert "X-Cart-Token" not in response
    assert not Cart.objects.exists()


def test_first_added_line_hands_out_a_token_and_the_same_token_finds_the_cart(api_client):
    variant = stocked_variant(price="5.00")
    first = _add(api_client, variant)
    assert first.status_code == 201
    token = first.json()["token"]
    assert len(token) >= 40
    assert first["X-Cart-Token"] == token
    again = _guest(api_client, token).get(CART)
    assert again["X-Cart-Token"] == token
    assert again.json() == first.json()
    assert again.json()["item_count"] == 1
    assert Cart.objects.count() == 1


def test_unknown_token_gets_a_new_cart_never_someone_elses(api_client):
    variant = stocked_variant()
    owner = _guest(api_client, "")
    created = _add(owner, variant, 2).json()
    response = _add(_guest(api_client, "made-up-token"), variant, 1)
    assert response.status_code == 201
    assert response.json()["id"] != created["id"]
    assert response.json()["token"] not in (created["token"], "made-up-token")
    assert response.json()["item_count"] == 1
    assert Cart.objects.get(token=created["token"]).items.get().quantity == 2


def test_add_item_returns_201_cart_with_exact_shape(user_client):
    variant = stocked_variant(price="12.50", on_hand=10)
    response = _add(user_client, variant, 2)
    assert response.status_code == 201
    body = response.json()
    item = CartItem.objects.get()
    shop = variant.product.shop
    assert "token" not in body
    assert body == {
        "id": str(item.cart_id),
        "currency": "USD",
        "shops": [
            {
                "shop": {"id": str(shop.pk), "slug": shop.slug, "name": shop.name},
                "items": [
                    {
                        "id": str(item.pk),
                        "variant_id": str(variant.pk),
                        "sku": variant.sku,
                        "product": {
                            "id": str(variant.product.pk),
                            "name": variant.product.name,
                            "slug": variant.product.slug,
                        },
                        "options": {},
                        "unit_price": "12.50",
                        "quantity": 2,
                        "line_total": "25.00",
                        "available": True,
                        "available_quantity": 10,
                    }
                ],
                "subtotal": "25.00",
            }
        ],
        "item_count": 2,
        "subtotal": "25.00",
    }


def test_adding_the_same_variant_adds_to_the_line(user_client):
    variant = stocked_variant(on_hand=10)
    _add(user_client, variant, 2)
    body = _add(user_client, variant, 3).json()
    assert CartItem.objects.get().quantity == 5
    assert body["item_count"] == 5


def test_client_prices_are_ignored_and_current_prices_shown(user_client):
    variant = stocked_variant(price="10.00")
    response = _add(user_client, variant, 1, unit_price="0.01", price="0.01", line_total="0.01")
    assert response.json()["subtotal"] == "10.00"
    variant.price = Decimal("11.00")
    variant.save()
    body = user_client.get(CART).json()
    assert body["shops"][0]["items"][0]["unit_price"] == "11.00"
    assert body["subtotal"] == "11.00"


@pytest.mark.parametrize("status", [Product.Status.DRAFT, Product.Status.ARCHIVED])
def test_unpublished_or_archived_product_is_404(user_client, status):
    variant = stocked_variant(status=status)
    response = _add(user_client, variant)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "cart.variant_not_found"
    assert not CartItem.objects.exists()


def test_inactive_variant_unknown_variant_and_suspended_shop_are_404(user_client):
    inactive = stocked_variant()
    inactive.is_active = False
    inactive.save()
    suspended = stocked_variant()
    Shop.objects.filter(pk=suspended.product.shop_id).update(status=Shop.Status.SUSPENDED)
    for variant_id in (inactive.pk, suspended.pk, "00000000-0000-0000-0000-000000000000"):
        response = user_client.post(ITEMS, {"variant_id": str(variant_id), "quantity": 1})
        assert response.status_code == 404
        assert response.json()["code"] == "cart.variant_not_found"
    assert not CartItem.objects.exists()


def test_more_than_available_is_409_with_available_and_changes_nothing(user_client):
    variant = stocked_variant(on_hand=5, reserved=2)
    _add(user_client, variant, 2)
    response = _add(user_client, variant, 2)
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "inventory.insufficient_stock"
    assert body["available"] == 3
    assert body["requested"] == 4
    assert body["sku"] == variant.sku
    assert CartItem.objects.get().quantity == 2


def test_variant_without_stock_row_has_nothing_available(user_client):
    variant = stocked_variant()
    variant.stock.delete()
    response = _add(user_client, variant, 1)
    assert response.status_code == 409
    assert response.json()["available"] == 0


def test_line_quantity_cap_is_422(user_client, settings):
    settings.CART_MAX_LINE_QUANTITY = 3
    variant = stocked_variant(on_hand=100)
    _add(user_client, variant, 3)
    response = _add(user_client, variant, 1)
    assert response.status_code == 422
    assert response.json()["code"] == "cart.line_quantity_limit"
    assert response.json()["max_quantity"] == 3
    item = CartItem.objects.get()
    assert user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 4}).status_code == 422
    assert CartItem.objects.get().quantity == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"variant_id": "nope", "quantity": 1},
        {"quantity": 1},
        {"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": 0},
        {"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": -2},
        {"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": 10**12},
        {"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": "many"},
    ],
)
def test_bad_input_is_400_problem(user_client, payload):
    response = user_client.post(ITEMS, payload)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"]


def test_patch_sets_absolute_quantity_and_zero_removes(user_client):
    variant = stocked_variant(on_hand=10)
    _add(user_client, variant, 2)
    item = CartItem.objects.get()
    response = user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 7})
    assert response.status_code == 200
    assert response.json()["shops"][0]["items"][0]["quantity"] == 7
    over = user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 11})
    assert over.status_code == 409
    assert over.json()["available"] == 10
    assert CartItem.objects.get().quantity == 7
    removed = user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 0})
    assert removed.status_code == 200
    assert removed.json()["shops"] == []
    assert not CartItem.objects.exists()


def test_line_of_product_unpublished_later_shows_unavailable_and_can_be_lowered(user_client):
    kept = stocked_variant(price="5.00")
    gone = stocked_variant(price="7.00", shop=kept.product.shop)
    _add(user_client, kept, 1)
    _add(user_client, gone, 3)
    Product.objects.filter(pk=gone.product_id).update(status=Product.Status.DRAFT)
    body = user_client.get(CART).json()
    lines = {line["sku"]: line for line in body["shops"][0]["items"]}
    assert lines[gone.sku]["available"] is False
    assert lines[kept.sku]["available"] is True
    assert body["shops"][0]["subtotal"] == "5.00"
    assert body["subtotal"] == "5.00"
    assert body["item_count"] == 4
    item = CartItem.objects.get(variant=gone)
    assert user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 1}).status_code == 200
    assert user_client.patch(f"{ITEMS}/{item.pk}", {"quantity": 2}).status_code == 404


def test_lines_are_grouped_by_shop_with_subtotals(user_client):
    a = stocked_variant(price="3.00", shop=ShopFactory(name="Alpha", slug="alpha"))
    b1 = stocked_variant(price="2.50", shop=ShopFactory(name="Beta", slug="beta"))
    b2 = stocked_variant(price="1.25", shop=b1.product.shop)
    _add(user_client, b1, 2)
    _add(user_client, a, 1)
    body = _add(user_client, b2, 4).json()
    assert [g["shop"]["slug"] for g in body["shops"]] == ["alpha", "beta"]
    assert [g["subtotal"] for g in body["shops"]] == ["3.00", "10.00"]
    assert [i["sku"] for i in body["shops"][1]["items"]] == [b1.sku, b2.sku]
    assert body["subtotal"] == "13.00"
    assert body["item_count"] == 7


def test_delete_item_and_delete_cart_answer_204(user_client):
    a, b = stocked_variant(), stocked_variant()
    _add(user_client, a)
    _add(user_client, b)
    item = CartItem.objects.get(variant=a)
    response = user_client.delete(f"{ITEMS}/{item.pk}")
    assert response.status_code == 204
    assert list(CartItem.objects.values_list("variant_id", flat=True)) == [b.pk]
    assert user_client.delete(f"{ITEMS}/{item.pk}").status_code == 404
    assert user_client.delete(CART).status_code == 204
    assert not CartItem.objects.exists()
    assert Cart.objects.count() == 1


def test_another_token_or_user_cannot_see_or_change_a_guest_line(api_client):
    variant = stocked_variant()
    owner_token = _add(_guest(api_client, ""), variant, 2).json()["token"]
    item = CartItem.objects.get()
    stranger = _guest(api_client, "stranger-token")
    assert stranger.patch(f"{ITEMS}/{item.pk}", {"quantity": 1}).status_code == 404
    assert stranger.delete(f"{ITEMS}/{item.pk}").status_code == 404
    assert stranger.delete(CART).status_code == 204
    other_user = auth_client(UserFactory())
    # A signed-in user acts on their own cart even when sending someone's guest token.
    other_user.credentials(
        HTTP_AUTHORIZATION=other_user._credentials["HTTP_AUTHORIZATION"],
        HTTP_X_CART_TOKEN=owner_token,
    )
    assert other_user.get(CART).json()["shops"] == []
    response = other_user.patch(f"{ITEMS}/{item.pk}", {"quantity": 1})
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "cart.item_not_found"
    assert other_user.delete(f"{ITEMS}/{item.pk}").status_code == 404
    assert CartItem.objects.get().quantity == 2
    assert _guest(api_client, owner_token).get(CART).json()["item_count"] == 2


def test_a_user_line_is_invisible_to_other_users_and_guests(user_client, api_client):
    variant = stocked_variant()
    _add(user_client, variant, 1)
    item = CartItem.objects.get()
    other = auth_client(UserFactory())
    assert other.patch(f"{ITEMS}/{item.pk}", {"quantity": 3}).status_code == 404
    assert api_client.delete(f"{ITEMS}/{item.pk}").status_code == 404
    assert CartItem.objects.get().quantity == 1


def test_invalid_jwt_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = api_client.get(CART)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


# --- merge


def test_merge_adds_quantities_capped_and_deletes_guest_cart(api_client, user, settings):
    settings.CART_MAX_LINE_QUANTITY = 10
    both = stocked_variant(on_hand=6)
    capped = stocked_variant(on_hand=100)
    guest_only = stocked_variant(on_hand=4)
    unpublished = stocked_variant()
    guest = _guest(api_client, "")
    token = _add(guest, both, 3).json()["token"]
    guest = _guest(api_client, token)
    _add(guest, capped, 8)
    _add(guest, guest_only, 4)
    _add(guest, unpublished, 1)
    Product.objects.filter(pk=unpublished.product_id).update(status=Product.Status.ARCHIVED)
    client = auth_client(user)
    _add(client, both, 4)
    _add(client, capped, 5)
    client.credentials(
        HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_CART_TOKEN=token
    )
    response = client.post(f"{CART}/merge")
    assert response.status_code == 200
    quantities = dict(
        CartItem.objects.filter(cart__user=user).values_list("variant_id", "quantity")
    )
    assert quantities == {both.pk: 6, capped.pk: 10, guest_only.pk: 4}
    assert not Cart.objects.filter(token=token).exists()
    assert response.json()["item_count"] == 20
    assert "token" not in response.json()
    # Retried merge: the guest cart is gone, nothing changes.
    again = client.post(f"{CART}/merge")
    assert again.status_code == 200
    assert again.json()["item_count"] == 20


def test_merge_never_lowers_an_existing_user_line(api_client, user):
    variant = stocked_variant(on_hand=5)
    token = _add(_guest(api_client, ""), variant, 1).json()["token"]
    client = auth_client(user)
    _add(client, variant, 5)
    variant.stock.reserved = 3
    variant.stock.save()
    client.credentials(
        HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_CART_TOKEN=token
    )
    client.post(f"{CART}/merge")
    assert CartItem.objects.get(cart__user=user).quantity == 5


def test_merge_needs_a_user_and_a_token(api_client, user_client):
    anonymous = _guest(api_client, "whatever").post(f"{CART}/merge")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM
    missing = user_client.post(f"{CART}/merge")
    assert missing.status_code == 400
    assert missing.json()["code"] == "cart.token_required"


# --- query counts


def _fill_from_several_shops(client):
    """Nine more lines from three shops, one of them no longer for sale."""
    for _ in range(3):
        shop = ShopFactory()
        for _ in range(3):
            _add(client, stocked_variant(shop=shop))
    Product.objects.filter(pk=CartItem.objects.latest("created_at").variant.product_id).update(
        status=Product.Status.DRAFT
    )


def test_get_cart_query_count_is_constant_in_lines_and_shops(
    user_client, django_assert_num_queries
):
    _add(user_client, stocked_variant())
    # caller + their cart + lines with variant, product, shop and stock
    with django_assert_num_queries(3):
        assert len(user_client.get(CART).json()["shops"]) == 1
    _fill_from_several_shops(user_client)
    with django_assert_num_queries(3):
        body = user_client.get(CART).json()
    assert len(body["shops"]) == 4
    assert body["item_count"] == 10
    lines = [line for group in body["shops"] for line in group["items"]]
    assert [line["available"] for line in lines].count(False) == 1


def test_get_guest_cart_query_count_is_constant_in_lines_and_shops(
    api_client, django_assert_num_queries
):
    token = _add(api_client, stocked_variant()).json()["token"]
    guest = _guest(api_client, token)
    # the cart of the token + lines with variant, product, shop and stock
    with django_assert_num_queries(2):
        assert len(guest.get(CART).json()["shops"]) == 1
    _fill_from_several_shops(guest)
    with django_assert_num_queries(2):
        body = guest.get(CART).json()
    assert len(body["shops"]) == 4
    assert body["item_count"] == 10


# --- purge


def test_idle_guest_carts_are_purged_by_task_and_command(api_client, user_client, settings):
    settings.CART_GUEST_TTL_DAYS = 30
    variant = stocked_variant()
    _add(user_client, variant)
    old_token = _add(_guest(api_client, ""), variant).json()["token"]
    fresh_token = _add(_guest(api_client, ""), variant).json()["token"]
    long_ago = timezone.now() - timedelta(days=31)
    Cart.objects.filter(token=old_token).update(updated_at=long_ago)
    Cart.objects.filter(user__isnull=False).update(updated_at=long_ago)
    assert purge_idle_guest_carts.delay().get() == 1
    assert not Cart.objects.filter(token=old_token).exists()
    assert Cart.objects.filter(token=fresh_token).exists()
    assert Cart.objects.filter(user__isnull=False).count() == 1
    assert CartItem.objects.count() == 2

    Cart.objects.filter(token=fresh_token).update(updated_at=timezone.now() - timedelta(days=3))
    out = StringIO()
    call_command("purge_carts", "--days", "2", stdout=out)
    assert "Purged 1 guest cart" in out.getvalue()
    assert not Cart.objects.filter(user__isnull=True).exists()


def test_purge_runs_daily_from_the_beat_schedule(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["cart-purge-idle-guest-carts"]
    assert entry["task"] == "cart.purge_idle_guest_carts"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 24 * 3600.0
