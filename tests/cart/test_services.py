import pytest

from apps.cart.models import Cart, CartItem
from apps.cart.services import cart_get_for_user, cart_item_add, cart_lines_remove
from tests.inventory.factories import stocked_variant
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_cart_lines_remove_removes_only_the_bought_variants_of_that_user():
    buyer, other = UserFactory(), UserFactory()
    bought, kept = stocked_variant(), stocked_variant()
    for user in (buyer, other):
        cart = cart_get_for_user(user=user)
        cart_item_add(cart=cart, variant_id=bought.pk, quantity=1)
        cart_item_add(cart=cart, variant_id=kept.pk, quantity=2)
    assert cart_lines_remove(user=buyer, variant_ids=[bought.pk]) == 1
    assert list(CartItem.objects.filter(cart__user=buyer).values_list("variant_id", flat=True)) == [
        kept.pk
    ]
    assert CartItem.objects.filter(cart__user=other).count() == 2
    assert cart_lines_remove(user=buyer, variant_ids=[bought.pk]) == 0


def test_a_user_has_one_cart():
    user = UserFactory()
    assert cart_get_for_user(user=user) == cart_get_for_user(user=user)
    assert Cart.objects.filter(user=user).count() == 1
