"""apps.core.db: the lean statements of the checkout path write and read exactly what the ORM
writes and reads."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from apps.catalog.models import ProductVariant
from apps.core.db import for_update, get_by_pk, in_list, insert_rows, loaded, prep, select_rows
from apps.events.models import OutboxEvent
from apps.orders.models import Checkout, Order, OrderStatusChange
from apps.users.models import User
from tests.catalog.factories import VariantFactory
from tests.users.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def _checkout(buyer: User, number: str = "CK-1") -> Checkout:
    return Checkout(
        number=number,
        buyer=buyer,
        currency="USD",
        subtotal=Decimal("10.50"),
        discount_total=Decimal("0.00"),
        shipping_total=Decimal("4.99"),
        total=Decimal("15.49"),
        idempotency_key="",
    )


def _field_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_insert_rows_writes_what_the_orm_reads_back(django_assert_num_queries):
    buyer, shop = UserFactory(), ShopFactory()
    checkout = _checkout(buyer)
    with django_assert_num_queries(1):
        insert_rows([checkout])
    orders = [
        Order(
            checkout=checkout,
            number=f"CK-1-{n}",
            buyer=buyer,
            shop=shop,
            status=Order.Status.PENDING,
            payment_method=Order.PaymentMethod.CASH_ON_DELIVERY,
            payment_status=Order.PaymentStatus.UNPAID,
            currency="USD",
            subtotal=Decimal("5.25"),
            discount_total=Decimal("0.00"),
            shipping_fee=Decimal("0.00"),
            total=Decimal("5.25"),
            shipping_address={"name": "Ann", "city": "Hà Nội", "lines": ["1", "2"]},
        )
        for n in (1, 2)
    ]
    with django_assert_num_queries(1):
        insert_rows(orders)

    assert checkout.created_at is not None
    assert checkout.updated_at is not None
    assert not checkout._state.adding
    assert _field_values(Checkout.objects.get(pk=checkout.pk)) == _field_values(checkout)
    for order in orders:
        stored = Order.objects.get(pk=order.pk)
        assert _field_values(stored) == _field_values(order)
        assert stored.shipping_address == {"name": "Ann", "city": "Hà Nội", "lines": ["1", "2"]}
        assert stored.total == Decimal("5.25")


def test_insert_rows_reads_back_database_assigned_keys_in_row_order():
    events = [OutboxEvent(topic="t", key=f"k{n}", type="test.happened") for n in range(3)]
    insert_rows(events)

    assert all(event.seq is not None for event in events)
    stored = dict(OutboxEvent.objects.filter(type="test.happened").values_list("key", "seq"))
    assert stored == {event.key: event.seq for event in events}
    assert events[0].seq < events[1].seq < events[2].seq


def test_insert_rows_of_nothing_runs_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_rows([])


def test_insert_rows_fails_like_the_orm_on_a_constraint():
    from django.db import IntegrityError, transaction

    buyer = UserFactory()
    insert_rows([_checkout(buyer, "CK-DUP")])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([_checkout(buyer, "CK-DUP")])
    assert Checkout.objects.filter(number="CK-DUP").count() == 1


def test_select_rows_converts_values_as_a_queryset_does():
    variant = VariantFactory(options={"size": "M"}, price=Decimal("12.30"))
    fields = (
        ProductVariant._meta.pk,
        ProductVariant._meta.get_field("options"),
        ProductVariant._meta.get_field("price"),
        ProductVariant._meta.get_field("product"),
    )
    rows = select_rows(
        "SELECT id, options, price, product_id FROM catalog_productvariant WHERE id = %s",
        [prep(ProductVariant._meta.pk, variant.pk)],
        fields,
    )
    expected = ProductVariant.objects.filter(pk=variant.pk).values_list(
        "pk", "options", "price", "product_id"
    )
    assert rows == list(expected)
    assert rows == [(variant.pk, {"size": "M"}, Decimal("12.30"), variant.product_id)]


def test_an_empty_in_list_matches_nothing():
    VariantFactory()
    assert in_list([]) == "NULL"
    assert in_list([1, 2]) == "%s, %s"
    sql = f"SELECT id FROM catalog_productvariant WHERE id IN ({in_list([])})"
    assert select_rows(sql, [], (ProductVariant._meta.pk,)) == []


def test_get_by_pk_loads_the_whole_row():
    user = UserFactory(name="Ann")
    loaded_user = get_by_pk(User, user.pk)
    assert _field_values(loaded_user) == _field_values(User.objects.get(pk=user.pk))
    assert not loaded_user._state.adding
    assert get_by_pk(User, uuid.uuid4()) is None


def test_loaded_places_values_by_field_whatever_the_argument_order():
    variant_id, product_id = uuid.uuid4(), uuid.uuid4()
    variant = loaded(ProductVariant, sku="SKU-1", product_id=product_id, id=variant_id)
    assert (variant.pk, variant.sku, variant.product_id) == (variant_id, "SKU-1", product_id)
    assert not variant._state.adding


def test_for_update_locks_rows_only_where_the_database_can():
    if connection.vendor == "postgresql":
        assert for_update("s") == " FOR UPDATE OF s"
    else:
        assert for_update("s") == ""


def test_history_rows_keep_their_foreign_keys():
    buyer = UserFactory()
    checkout = _checkout(buyer, "CK-H")
    insert_rows([checkout])
    order = Order(
        checkout=checkout,
        number="CK-H-1",
        buyer=buyer,
        shop=ShopFactory(),
        currency="USD",
        subtotal=Decimal(1),
        discount_total=Decimal(0),
        shipping_fee=Decimal(0),
        total=Decimal(1),
        shipping_address={},
    )
    insert_rows([order])
    change = OrderStatusChange(
        order=order, from_status="", to_status="pending", actor=buyer, actor_role="buyer"
    )
    insert_rows([change])
    stored = OrderStatusChange.objects.select_related("order", "actor").get(pk=change.pk)
    assert (stored.order, stored.actor) == (order, buyer)
