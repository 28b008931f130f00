import pytest
from django.test import Client

from apps.shops.models import Shop
from apps.shops.services import shop_follow
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("path", ["/admin/shops/shop/?q=shop", "/admin/shops/shopfollow/"])
def test_admin_pages_render(admin_client, path):
    shop = ShopFactory()
    shop_follow(shop=shop, user=UserFactory())
    assert admin_client.get(path).status_code == 200


def test_admin_change_page_renders(admin_client):
    shop = ShopFactory()
    assert admin_client.get(f"/admin/shops/shop/{shop.pk}/change/").status_code == 200


def test_admin_adds_a_shop_through_shop_create(admin_client):
    owner = UserFactory()
    response = admin_client.post(
        "/admin/shops/shop/add/",
        {
            "owner": str(owner.pk),
            "name": "Corner Store",
            "description": "Open late",
            "shipping_fee": "4.50",
            "free_shipping_threshold": "",
            "status": "active",
        },
    )
    assert response.status_code == 302, response.content

    shop = Shop.objects.get(owner=owner)
    assert (shop.name, shop.slug, str(shop.shipping_fee)) == (
        "Corner Store",
        "corner-store",
        "4.50",
    )
    # a second shop for the same owner is refused on the form, nothing saved
    again = admin_client.post(
        "/admin/shops/shop/add/",
        {"owner": str(owner.pk), "name": "Second", "shipping_fee": "0", "status": "active"},
    )
    assert again.status_code == 200
    assert Shop.objects.filter(owner=owner).count() == 1
