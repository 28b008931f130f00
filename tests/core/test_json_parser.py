"""JSON bodies whose strings hold text PostgreSQL cannot store (a NUL character, an unpaired
surrogate) are 400 `request.malformed`; no serializer field checks free JSON values such as
product attributes, and they were 500s."""

import json

import pytest

from apps.catalog.models import Product
from apps.users.models import User
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

DETAIL = "JSON strings must not contain NUL characters or unpaired surrogates."


def post_raw(client, url: str, raw: str, method: str = "post"):
    return getattr(client, method)(url, raw.encode(), content_type="application/json")


def product_body(manufacturer_json: str) -> str:
    return (
        '{"type": "electronics", "name": "Phone", "price": "10.00", '
        f'"attributes": {{"manufacturer": {manufacturer_json}}}}}'
    )


@pytest.mark.parametrize(
    "value",
    [r'"A\u0000b"', r'"\ud800"', r'"x\udfffy"'],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_unstorable_text_in_a_json_value_is_400_and_creates_nothing(value):
    seller = ShopFactory().owner
    response = post_raw(auth_client(seller), "/api/v1/products", product_body(value))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["status"], body["detail"]) == ("request.malformed", 400, DETAIL)
    assert not Product.objects.exists()


def test_unstorable_text_in_a_key_or_a_list_is_400(user):
    client = auth_client(user)
    for raw in (r'{"name\u0000": "x"}', r'{"name": ["\ud800"]}'):
        response = post_raw(client, "/api/v1/me", raw, method="patch")
        assert response.status_code == 400, raw
        assert response.json()["code"] == "request.malformed"
    assert User.objects.get(pk=user.pk).name == user.name


def test_escaped_text_that_postgresql_stores_is_accepted():
    seller = ShopFactory().owner
    # an escaped emoji (a surrogate pair), an escaped accent and a literal backslash-u
    value = json.dumps("\U0001f600 caf\u00e9 \\u0000")
    assert "\\ud83d\\ude00" in value
    response = post_raw(auth_client(seller), "/api/v1/products", product_body(value))
    assert response.status_code == 201, response.content
    assert response.json()["attributes"]["manufacturer"] == "\U0001f600 caf\u00e9 \\u0000"


DEPTH_DETAIL = "JSON must not nest arrays and objects more than 32 deep."


@pytest.mark.parametrize(
    "raw",
    ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 100_000],
    ids=["arrays-1000", "objects-1000", "unclosed-100000"],
)
def test_deeply_nested_json_is_400_malformed(user, raw):
    """The decoder raised RecursionError (a 500) at 1,000 levels."""
    response = post_raw(auth_client(user), "/api/v1/me", raw, method="patch")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["status"]) == ("request.malformed", 400)
    if raw.count("]"):
        assert body["detail"] == DEPTH_DETAIL
    assert User.objects.get(pk=user.pk).name == user.name


def test_json_nested_below_the_limit_still_parses_and_one_level_more_is_refused():
    seller = ShopFactory().owner
    client = auth_client(seller)
    # the body object and `attributes` are two levels; 30 more nested arrays make 32
    deep_ok = "[" * 30 + '"x"' + "]" * 30
    response = post_raw(client, "/api/v1/products", product_body(deep_ok))
    # the type's schema refuses a list as `manufacturer`: a validation error, not a parse error
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "catalog.invalid_attributes"

    too_deep = "[" * 31 + '"x"' + "]" * 31
    response = post_raw(client, "/api/v1/products", product_body(too_deep))
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["detail"]) == (
        "request.malformed",
        DEPTH_DETAIL,
    )
    assert not Product.objects.exists()
