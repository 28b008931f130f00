"""`OPTIONS` describes the fields of a `POST` only to a caller who may send it: on a ViewSet each
method is judged as the action it runs (apps.core.metadata.ActionMetadata), not as DRF's
`metadata` action."""

import pytest

from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _options(client, path):
    response = client.options(path)
    assert response.status_code == 200
    return response.json()


def test_anyone_lists_shops_but_only_a_signed_in_user_is_told_how_to_open_one(api_client):
    anonymous = _options(api_client, "/api/v1/shops")
    signed_in = _options(auth_client(UserFactory()), "/api/v1/shops")

    assert "actions" not in anonymous
    assert set(signed_in["actions"]) == {"POST"}
    assert signed_in["actions"]["POST"]["name"]["required"] is True


def test_only_a_seller_is_told_how_to_create_a_product(api_client):
    seller = ShopFactory().owner

    assert "actions" not in _options(api_client, "/api/v1/products")
    assert "actions" not in _options(auth_client(UserFactory()), "/api/v1/products")
    described = _options(auth_client(seller), "/api/v1/products")["actions"]
    assert set(described) == {"POST"}
    assert "name" in described["POST"]


def test_a_route_with_one_rule_for_every_action_is_described_to_its_callers_only(api_client):
    described = _options(auth_client(UserFactory()), "/api/v1/me/addresses")["actions"]
    assert set(described) == {"POST"}
    assert "line1" in described["POST"]
    assert api_client.options("/api/v1/me/addresses").status_code == 401
