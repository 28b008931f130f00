"""Following a shop: its seller hears about the new follower (once), and the follower (only) hears
about each new product and public discount code of the shop, until they unfollow."""

import pytest

from apps.notifications.models import Notification
from apps.shops.models import ShopFollow
from tests.catalog.factories import make_product
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

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


def test_news_is_told_once_however_often_it_is_toggled(new_api):
    shop = ShopFactory(name="Beta", slug="beta")
    seller = new_api().as_user(shop.owner)
    follower_user = UserFactory()
    follower = new_api().as_user(follower_user)

    # Following, unfollowing and following again: the seller hears about this follower once.
    for _ in range(3):
        assert follower.post("/api/v1/shops/beta/follow").status_code == 204
        assert follower.delete("/api/v1/shops/beta/follow").status_code == 204
    assert follower.post("/api/v1/shops/beta/follow").status_code == 204
    (followed,) = _feed(seller)
    assert followed["type"] == "shop.followed"
    assert followed["data"] == {
        "shop_id": str(shop.pk),
        "user_id": str(follower_user.pk),
        "seller_id": str(shop.owner_id),
    }

    # Publishing, unpublishing and publishing again: the product is new once.
    lamp = make_product(shop, name="Desk Lamp", publish=False)
    for _ in range(3):
        assert seller.post(f"/api/v1/products/{lamp.pk}/publish").status_code == 200
        assert seller.post(f"/api/v1/products/{lamp.pk}/unpublish").status_code == 200
    assert seller.post(f"/api/v1/products/{lamp.pk}/publish").status_code == 200
    (news,) = _feed(follower)
    assert (news["type"], news["data"]["product_id"]) == ("shop.new_product", str(lamp.pk))
    assert news["data"]["first_publish"] is True

    # A private code made public, then hidden and shown again: announced once, when it went
    # public; an inactive public code is announced when it is switched on.
    response = seller.post(
        "/api/v1/seller/discounts",
        {"code": "HUSH", "name": "Hush", "type": "percentage", "value": "10"},
    )
    assert response.status_code == 201, response.content
    hush = response.json()["id"]
    response = seller.post(
        "/api/v1/seller/discounts",
        {
            "code": "LATER",
            "name": "Later",
            "type": "fixed_amount",
            "value": "5",
            "is_public": True,
            "is_active": False,
        },
    )
    assert response.status_code == 201, response.content
    later = response.json()["id"]
    assert len(_feed(follower)) == 1
    for is_public in (True, False, True):
        response = seller.patch(f"/api/v1/seller/discounts/{hush}", {"is_public": is_public})
        assert response.status_code == 200, response.content
    for is_active in (True, False, True):
        response = seller.patch(f"/api/v1/seller/discounts/{later}", {"is_active": is_active})
        assert response.status_code == 200, response.content

    feed = _feed(follower)
    assert [(n["type"], n["data"].get("code")) for n in feed] == [
        ("shop.new_discount", "LATER"),
        ("shop.new_discount", "HUSH"),
        ("shop.new_product", None),
    ]
    assert Notification.objects.filter(recipient=shop.owner).count() == 1
