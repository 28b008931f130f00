"""Following a shop: its seller hears about the new follower, and the follower (only) hears about
each product the shop publishes, until they unfollow."""

import pytest

from apps.notifications.models import Notification
from apps.users.models import ShopFollow
from tests.catalog.factories import make_product
from tests.users.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def _feed(api) -> list[dict]:
    response = api.get("/api/v1/notifications")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_follower_hears_about_new_products_until_unfollowing(new_api):
    shop = ShopFactory(name="Alpha", slug="alpha")
    seller = new_api().as_user(shop.owner)
    follower_user = UserFactory()
    follower = new_api().as_user(follower_user)
    bystander = new_api().as_user(UserFactory())

    response = follower.post("/api/v1/shops/alpha/follow")
    assert response.status_code == 204
    assert response.content == b""
    assert ShopFollow.objects.filter(user=follower_user, shop=shop).exists()
    assert follower.get("/api/v1/shops/alpha").json()["follower_count"] == 1
    assert [n["type"] for n in _feed(seller)] == ["shop.followed"]

    # A draft says nothing; publishing it tells the follower.
    lamp = make_product(shop, name="Desk Lamp", publish=False)
    assert _feed(follower) == []
    response = seller.post(f"/api/v1/products/{lamp.pk}/publish")
    assert response.status_code == 200, response.content

    (news,) = _feed(follower)
    assert news["type"] == "shop.new_product"
    assert news["data"]["product_id"] == str(lamp.pk)
    assert news["data"]["shop_id"] == str(shop.pk)
    assert "Desk Lamp" in news["body"]
    assert news["read_at"] is None
    assert _feed(bystander) == []
    assert [n["type"] for n in _feed(seller)] == ["shop.followed"]

    # After unfollowing, the next product goes unannounced.
    response = follower.delete("/api/v1/shops/alpha/follow")
    assert response.status_code == 204
    assert follower.get("/api/v1/shops/alpha").json()["follower_count"] == 0
    chair = make_product(shop, name="Chair", publish=False)
    assert seller.post(f"/api/v1/products/{chair.pk}/publish").status_code == 200
    assert [n["data"]["product_id"] for n in _feed(follower)] == [str(lamp.pk)]
    assert Notification.objects.filter(type="shop.new_product").count() == 1
