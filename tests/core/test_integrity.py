import sqlite3

import pytest
from django.db import IntegrityError, connection, transaction

from apps.core.integrity import unique_column_name, violated_constraint
from apps.discounts import services as discount_services
from apps.discounts.errors import DiscountCodeTaken
from apps.discounts.models import Discount
from apps.orders.models import Checkout
from apps.orders.services import KEY_CONSTRAINT, NUMBER_CONSTRAINTS
from tests.discounts.factories import DiscountFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="only PostgreSQL names the violated constraint"
)


def _violation(make) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    return caught.value


def _checkout(**fields) -> Checkout:
    values = {"buyer": UserFactory(), "number": "CK-1", "currency": "EUR"}
    values.update(subtotal=0, discount_total=0, shipping_total=0, total=0)
    return Checkout.objects.create(**{**values, **fields})


@postgresql_only
def test_postgresql_names_the_unique_constraint_of_a_declared_constraint():
    buyer = UserFactory()
    _checkout(buyer=buyer, number="CK-A", idempotency_key="k")

    error = _violation(lambda: _checkout(buyer=buyer, number="CK-B", idempotency_key="k"))

    assert violated_constraint(error) == KEY_CONSTRAINT


@postgresql_only
def test_postgresql_names_the_unique_of_a_unique_column_as_unique_column_name_says():
    _checkout(number="CK-SAME")

    error = _violation(lambda: _checkout(number="CK-SAME"))

    assert violated_constraint(error) == unique_column_name("orders_checkout", "number")
    assert violated_constraint(error) in NUMBER_CONSTRAINTS


@postgresql_only
def test_postgresql_names_the_expression_constraint_the_discounts_answer():
    existing = DiscountFactory(code="SUMMER")

    error = _violation(lambda: DiscountFactory(shop=existing.shop, code="summer"))

    assert violated_constraint(error) == discount_services.CODE_CONSTRAINT


def test_sqlite_names_no_constraint():
    # What Django raises on SQLite: its IntegrityError caused by the driver's, whose message
    # lists columns only.
    error = IntegrityError("UNIQUE constraint failed: orders_checkout.number")
    error.__cause__ = sqlite3.IntegrityError("UNIQUE constraint failed: orders_checkout.number")

    assert violated_constraint(error) is None


def test_an_error_without_a_cause_names_no_constraint():
    assert violated_constraint(IntegrityError("anything")) is None


def test_without_a_constraint_name_a_taken_code_is_found_by_its_query(monkeypatch):
    # The SQLite path on any database: the service cannot tell the constraint, it asks.
    monkeypatch.setattr(discount_services, "violated_constraint", lambda exc: None)
    existing = DiscountFactory(code="WINTER")
    duplicate = Discount(
        shop=existing.shop, code="winter", name="again", type=existing.type, value=existing.value
    )

    with pytest.raises(DiscountCodeTaken):
        discount_services._save(duplicate)

    assert Discount.objects.filter(shop=existing.shop).count() == 1


def test_a_violation_of_another_constraint_is_not_a_taken_code(monkeypatch):
    monkeypatch.setattr(discount_services, "violated_constraint", lambda exc: "some_other_check")
    existing = DiscountFactory(code="AUTUMN")
    duplicate = Discount(
        shop=existing.shop, code="autumn", name="again", type=existing.type, value=existing.value
    )

    with pytest.raises(IntegrityError):
        discount_services._save(duplicate)
