"""A NUL character anywhere a client can put one in the request line or headers is 400
`request.malformed` before any view runs (PostgreSQL refuses NUL in text: it was a 500 wherever a
path parameter, filter or header reached a query)."""

import pytest

from apps.cart.models import Cart
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

MALFORMED = {
    "type": "https://errors.marketplace.dev/request.malformed",
    "title": "Malformed request",
    "status": 400,
    "detail": "The request has a NUL character in its path, query or headers.",
    "code": "request.malformed",
}


def assert_malformed(response) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    body.pop("request_id", None)
    assert body == MALFORMED
    assert response["X-Request-Id"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/shops/al%00pha/discounts",
        "/api/v1/discounts/AB%00C/products?shop=alpha",
        "/api/v1/discounts/ABC/products?shop=al%00pha",
        "/api/v1/products/sl%00ug",
        "/api/v1/products?search=a%00b",
        "/api/v1/products?attr.color=r%00ed",
        "/api/v1/categories?x=%00",
    ],
)
def test_nul_in_path_or_query_is_400(api_client, url):
    ShopFactory(slug="alpha")
    assert_malformed(api_client.get(url))


def test_nul_in_a_header_is_400_and_creates_nothing(api_client):
    assert_malformed(api_client.post("/api/v1/cart/items", {}, HTTP_X_CART_TOKEN="ab\x00cd"))
    assert_malformed(api_client.get("/api/v1/cart", HTTP_X_CART_TOKEN="ab\x00cd"))
    assert not Cart.objects.exists()


def test_nul_in_an_idempotency_key_is_400(user):
    response = auth_client(user).post(
        "/api/v1/me/addresses", {}, format="json", HTTP_IDEMPOTENCY_KEY="k\x00"
    )
    assert_malformed(response)


def test_requests_without_nul_pass(api_client):
    ShopFactory(slug="alpha")
    assert api_client.get("/api/v1/shops/alpha/discounts").status_code == 200
    assert api_client.get("/api/v1/products?search=a%20b").status_code == 200
