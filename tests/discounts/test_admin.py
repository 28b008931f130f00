import uuid
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from apps.cart.services import cart_get_for_user
from apps.discounts.models import Discount, DiscountRedemption
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


def _redeemed(code: str):
    discount = DiscountFactory(code=code)
    DiscountRedemption.objects.create(
        discount=discount, user=UserFactory(), order_id=uuid.uuid4(), amount=Decimal("3.00")
    )
    return discount


def test_deleting_a_used_code_deactivates_it_and_keeps_its_redemptions(admin_client):
    used = _redeemed("USED")
    url = f"/admin/discounts/discount/{used.pk}/delete/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert b"would require deleting the following protected" not in confirm.content

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [
        "The code USED was used, so it was deactivated instead of deleted (its redemptions are "
        "kept)."
    ]
    used.refresh_from_db()
    assert used.is_active is False
    assert DiscountRedemption.objects.filter(discount=used).count() == 1


def test_deleting_an_unused_code_deletes_it(admin_client):
    unused = DiscountFactory(code="FRESH")
    response = admin_client.post(
        f"/admin/discounts/discount/{unused.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not Discount.objects.filter(pk=unused.pk).exists()


def test_the_delete_action_deletes_unused_codes_and_deactivates_used_ones(admin_client):
    used, unused = _redeemed("USED"), DiscountFactory(code="FRESH")
    response = admin_client.post(
        "/admin/discounts/discount/",
        {"action": "delete_selected", "_selected_action": [used.pk, unused.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Used codes deactivated instead of deleted: USED." in shown
    assert list(Discount.objects.values_list("code", "is_active")) == [("USED", False)]


def test_redemptions_are_the_only_rows_that_protect_a_code():
    """The admin's delete confirmation ignores protected rows because `discount_delete`
    deactivates a used code: that holds only while redemptions are the only protection."""
    from django.db.models import PROTECT

    protecting = [
        (rel.related_model, rel.field.name)
        for rel in Discount._meta.related_objects
        if getattr(rel, "on_delete", None) is PROTECT
    ]
    assert protecting == [(DiscountRedemption, "discount")]
