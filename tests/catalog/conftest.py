import pytest

from tests.conftest import auth_client
from tests.shops.factories import ShopFactory


@pytest.fixture
def shop(db):
    return ShopFactory()


@pytest.fixture
def seller(shop):
    return shop.owner


@pytest.fixture
def seller_client(seller):
    return auth_client(seller)


@pytest.fixture
def other_shop(db):
    return ShopFactory()


@pytest.fixture
def other_seller_client(other_shop):
    return auth_client(other_shop.owner)
