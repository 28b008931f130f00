"""Malformed paging parameters are 400 with a pointer to the parameter (DRF answers 404 "Invalid
page" / "Invalid cursor"); a page past the last one is still 404."""

import pytest

from tests.catalog.factories import make_product
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGED = ["/api/v1/products", "/api/v1/shops", "/api/v1/seller/products", "/api/v1/seller/inventory"]
FEEDS = ["/api/v1/orders", "/api/v1/notifications", "/api/v1/seller/orders"]


@pytest.fixture
def client():
    shop = ShopFactory(slug="alpha")
    make_product(shop, name="Lamp", stock=1)
    return auth_client(shop.owner)


def assert_bad_param(response, name: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [error["pointer"] for error in errors] == [f"/{name}"]


@pytest.mark.parametrize("url", PAGED)
@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "²"])
def test_a_page_that_is_not_a_positive_number_is_400(client, url, page):
    assert_bad_param(client.get(url, {"page": page}), "page")


@pytest.mark.parametrize("url", PAGED)
def test_a_page_past_the_last_is_404_and_valid_pages_work(client, url):
    assert client.get(url, {"page": "1"}).status_code == 200
    assert client.get(url, {"page": "last"}).status_code == 200
    response = client.get(url, {"page": "999"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("url", FEEDS)
def test_a_cursor_we_did_not_issue_is_400(client, url):
    assert_bad_param(client.get(url, {"cursor": "zz"}), "cursor")
    assert client.get(url).status_code == 200


def test_a_reviews_feed_with_a_bad_cursor_is_400():
    product = make_product(ShopFactory(), name="Desk", stock=1)
    response = auth_client(UserFactory()).get(
        f"/api/v1/products/{product.pk}/reviews", {"cursor": "zz"}
    )
    assert_bad_param(response, "cursor")
