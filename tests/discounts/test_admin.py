import uuid
from decimal import Decimal

import pytest
from django.test import Client

from apps.cart.services import cart_get_for_user
from apps.discounts.models import DiscountRedemption
from tests.discounts.factories import DiscountFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_discount_admin_lists_and_shows_redemptions_read_only(admin_client):
    discount = DiscountFactory(code="ADMINME")
    DiscountRedemption.objects.create(
        discount=discount, user=UserFactory(), order_id=uuid.uuid4(), amount=Decimal("3.00")
    )
    listing = admin_client.get("/admin/discounts/discount/")
    assert listing.status_code == 200
    assert b"ADMINME" in listing.content
    page = admin_client.get(f"/admin/discounts/discount/{discount.pk}/change/")
    assert page.status_code == 200
    assert b"3.00" in page.content
    assert b"redemptions-0-amount" not in page.content  # inline fields are not editable


def test_cart_admin_pages_load(admin_client):
    cart = cart_get_for_user(user=UserFactory())
    assert admin_client.get("/admin/cart/cart/").status_code == 200
    assert admin_client.get(f"/admin/cart/cart/{cart.pk}/change/").status_code == 200
