"""The seller ledger: sales on delivery, reversals on refund, payouts; balances are the sums of
the entries; the seller and payout endpoints and who may use them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from freezegun import freeze_time

from apps.events.models import OutboxEvent
from apps.orders.services import order_transition
from apps.payments.ledger import Balance, shop_balance
from apps.payments.models import LedgerEntry, Payout
from apps.shops.services import shop_commission_rate_set
from tests.conftest import auth_client
from tests.orders.factories import ShopFactory, UserFactory, order_in, stocked_variant
from tests.payments.conftest import orders_of, pay, place_card

pytestmark = pytest.mark.django_db


def _move(order, *moves):
    for to in moves:
        order_transition(order_id=order.pk, to=to, actor=order.shop.owner, actor_role="seller")


def _entries(order) -> list[tuple[str, str, Decimal]]:
    return sorted(
        LedgerEntry.objects.filter(order=order).values_list("account", "kind", "amount"),
        key=lambda e: (e[0], e[1], e[2]),
    )


def _order_sum(order) -> Decimal:
    return LedgerEntry.objects.filter(order=order).aggregate(s=Sum("amount"))["s"]


def test_delivery_of_a_cash_order_credits_the_shop_less_commission():
    order = order_in("shipped", quantity=2)  # 2 x 12.50, no shipping fee
    assert LedgerEntry.objects.count() == 0

    _move(order, "delivered")

    assert _entries(order) == [
        ("clearing", "sale", Decimal("-25.00")),
        ("commission", "commission", Decimal("2.50")),
        ("shop", "commission", Decimal("-2.50")),
        ("shop", "sale", Decimal("25.00")),
    ]
    assert _order_sum(order) == 0
    entry = LedgerEntry.objects.filter(order=order).first()
    assert timedelta(days=6, hours=23) < entry.available_at - timezone.now() <= timedelta(days=7)


def test_the_shop_commission_rate_overrides_the_platform_default(settings):
    settings.PLATFORM_COMMISSION_RATE = Decimal("0.20")
    order = order_in("shipped", quantity=3)  # 37.50
    shop_commission_rate_set(shop=order.shop, rate=Decimal("0.0500"))

    _move(order, "delivered")

    assert ("commission", "commission", Decimal("1.88")) in _entries(order)  # 1.875 rounds up
    assert _order_sum(order) == 0
    other = order_in("shipped", quantity=1)
    _move(other, "delivered")
    assert ("commission", "commission", Decimal("2.50")) in _entries(other)  # 20 % default


def test_a_refund_after_delivery_reverses_both_and_nets_to_zero():
    order = order_in("delivered", quantity=2)

    _move(order, "refunded")

    entries = _entries(order)
    assert entries == [
        ("clearing", "refund", Decimal("25.00")),
        ("clearing", "sale", Decimal("-25.00")),
        ("commission", "commission", Decimal("-2.50")),
        ("commission", "commission", Decimal("2.50")),
        ("shop", "commission", Decimal("-2.50")),
        ("shop", "commission", Decimal("2.50")),
        ("shop", "refund", Decimal("-25.00")),
        ("shop", "sale", Decimal("25.00")),
    ]
    assert _order_sum(order) == 0
    assert shop_balance(shop_id=order.shop_id) == Balance(
        pending=Decimal("0.00"), available=Decimal("0.00"), currency="USD"
    )


def test_cancelled_and_undelivered_orders_are_not_in_the_ledger():
    cancelled = order_in("cancelled")
    shipped = order_in("shipped")
    assert LedgerEntry.objects.filter(order__in=[cancelled, shipped]).count() == 0


def test_a_card_order_is_credited_on_delivery(buyer_client, api_client, variant, stripe_api):
    body = place_card(buyer_client, (variant, 2))
    pay(api_client, body)
    (order,) = orders_of(body)
    assert LedgerEntry.objects.count() == 0

    _move(order, "confirmed", "shipped", "delivered")

    assert ("shop", "sale", Decimal("30.00")) in _entries(order)  # 25.00 + 5.00 shipping
    assert _order_sum(order) == 0


def test_balance_is_the_sum_of_entries_split_by_availability():
    shop = ShopFactory()
    early = order_in("shipped", variant=stocked_variant(price="10.00", shop=shop), quantity=1)
    with freeze_time(timezone.now() - timedelta(days=8)):
        _move(early, "delivered")
    late = order_in("shipped", variant=stocked_variant(price="20.00", shop=shop), quantity=1)
    _move(late, "delivered")

    balance = shop_balance(shop_id=shop.pk)

    assert (balance.available, balance.pending, balance.currency) == (
        Decimal("9.00"),
        Decimal("18.00"),
        "USD",
    )
    total = LedgerEntry.objects.filter(shop=shop, account="shop").aggregate(s=Sum("amount"))["s"]
    assert balance.available + balance.pending == total
    # A week on, everything is available.
    later = shop_balance(shop_id=shop.pk, now=timezone.now() + timedelta(days=8))
    assert (later.available, later.pending) == (Decimal("27.00"), Decimal("0.00"))


def test_seller_balance_and_entries_api():
    shop = ShopFactory()
    order = order_in("shipped", variant=stocked_variant(price="10.00", shop=shop), quantity=1)
    _move(order, "delivered")
    client = auth_client(shop.owner)

    balance = client.get("/api/v1/seller/balance")
    entries = client.get("/api/v1/seller/balance/entries")
    sales = client.get("/api/v1/seller/balance/entries?kind=sale")

    assert balance.status_code == 200
    assert balance.json() == {"pending": "9.00", "available": "0.00", "currency": "USD"}
    assert entries.status_code == 200
    results = entries.json()["results"]
    assert sorted((e["kind"], e["amount"]) for e in results) == [
        ("commission", "-1.00"),
        ("sale", "10.00"),
    ]
    assert {e["order_id"] for e in results} == {str(order.pk)}
    assert set(results[0]) == {
        "id",
        "order_id",
        "payout_id",
        "kind",
        "amount",
        "currency",
        "at",
        "available_at",
    }
    assert [e["kind"] for e in sales.json()["results"]] == ["sale"]
    assert set(entries.json()) == {"next", "previous", "results"}


def test_seller_balance_permissions(api_client, staff_client):
    shop = ShopFactory(slug="gamma")
    order = order_in("shipped", variant=stocked_variant(price="10.00", shop=shop), quantity=1)
    _move(order, "delivered")
    other_seller = auth_client(ShopFactory().owner)
    customer = auth_client(UserFactory())

    for path in ("/api/v1/seller/balance", "/api/v1/seller/balance/entries"):
        assert api_client.get(path).status_code == 401
        forbidden = customer.get(path)
        assert (forbidden.status_code, forbidden["Content-Type"]) == (
            403,
            "application/problem+json",
        )
        # Another seller sees only their own shop: nothing of gamma's.
        assert staff_client.get(path).status_code == 404  # staff must name a shop
        assert staff_client.get(f"{path}?shop=gamma").status_code == 200
        assert staff_client.get(f"{path}?shop=nope").status_code == 404
    assert other_seller.get("/api/v1/seller/balance").json()["pending"] == "0.00"
    assert other_seller.get("/api/v1/seller/balance/entries").json()["results"] == []
    # A seller cannot name another shop: 404, as for no such shop; naming their own is fine.
    for path in ("/api/v1/seller/balance", "/api/v1/seller/balance/entries"):
        refused = other_seller.get(f"{path}?shop=gamma")
        assert (refused.status_code, refused.json()["code"]) == (404, "shop.not_found")
    assert auth_client(shop.owner).get("/api/v1/seller/balance?shop=gamma").status_code == 200
    assert auth_client(shop.owner).get(f"/api/v1/seller/balance?shop={shop.pk}").status_code == 200
    assert staff_client.get("/api/v1/seller/balance?shop=gamma").json()["pending"] == "9.00"


def _available(shop, amount: str) -> None:
    LedgerEntry.objects.create(
        posting=f"sale:{shop.pk}",
        account="shop",
        kind="sale",
        amount=Decimal(amount),
        shop=shop,
        currency="USD",
        available_at=timezone.now() - timedelta(days=1),
    )


def test_a_payout_debits_the_available_balance(staff, staff_client):
    shop = ShopFactory(slug="delta")
    _available(shop, "100.00")

    response = staff_client.post(
        "/api/v1/payouts",
        {"shop": "delta", "amount": "60.00", "reference": "SEPA-1"},
        format="json",
    )

    assert response.status_code == 201, response.content
    payout = Payout.objects.get()
    assert response.json() == {
        "id": str(payout.pk),
        "shop": {"id": str(shop.pk), "slug": "delta", "name": shop.name},
        "amount": "60.00",
        "currency": "USD",
        "reference": "SEPA-1",
        "created_at": response.json()["created_at"],
    }
    assert payout.created_by == staff
    assert sorted(
        LedgerEntry.objects.filter(payout=payout).values_list("account", "kind", "amount")
    ) == [("clearing", "payout", Decimal("60.00")), ("shop", "payout", Decimal("-60.00"))]
    assert shop_balance(shop_id=shop.pk).available == Decimal("40.00")
    (event,) = OutboxEvent.objects.filter(type="payout.created")
    assert (event.key, event.topic, event.payload["amount"]) == (
        str(payout.pk),
        "payments",
        "60.00",
    )
    listed = staff_client.get("/api/v1/payouts?shop=delta").json()
    assert [p["id"] for p in listed["results"]] == [str(payout.pk)]
    assert staff_client.get(f"/api/v1/payouts/{payout.pk}").json()["reference"] == "SEPA-1"


def test_a_payout_above_the_available_balance_is_refused(staff_client):
    shop = ShopFactory(slug="epsilon")
    _available(shop, "100.00")
    order = order_in("shipped", variant=stocked_variant(price="50.00", shop=shop), quantity=1)
    _move(order, "delivered")  # pending, not available

    response = staff_client.post(
        "/api/v1/payouts",
        {"shop": "epsilon", "amount": "100.01", "reference": "SEPA-2"},
        format="json",
    )

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["available"]) == (
        "payout.exceeds_balance",
        "100.00",
    )
    assert Payout.objects.count() == 0
    assert not LedgerEntry.objects.filter(kind="payout").exists()


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"shop": "nope", "amount": "1.00", "reference": "x"}, "/shop"),
        ({"shop": "zeta", "amount": "0.00", "reference": "x"}, "/amount"),
        ({"shop": "zeta", "amount": "1.001", "reference": "x"}, "/amount"),
        ({"shop": "zeta", "amount": "1.00", "reference": "x" * 101}, "/reference"),
        ({"shop": "zeta", "amount": "1.00"}, "/reference"),
    ],
)
def test_payout_input_is_validated(staff_client, body, pointer):
    _available(ShopFactory(slug="zeta"), "10.00")

    response = staff_client.post("/api/v1/payouts", body, format="json")

    assert response.status_code == 400
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
    assert Payout.objects.count() == 0


def test_payouts_are_staff_only(api_client, staff_client):
    shop = ShopFactory(slug="eta")
    _available(shop, "10.00")
    body = {"shop": "eta", "amount": "1.00", "reference": "x"}
    for client in (auth_client(shop.owner), auth_client(UserFactory())):
        assert client.get("/api/v1/payouts").status_code == 403
        assert client.post("/api/v1/payouts", body, format="json").status_code == 403
    assert api_client.get("/api/v1/payouts").status_code == 401
    assert api_client.post("/api/v1/payouts", body, format="json").status_code == 401
    assert Payout.objects.count() == 0

    made = staff_client.post("/api/v1/payouts", body, format="json")
    assert made.status_code == 201
    path = f"/api/v1/payouts/{made.json()['id']}"
    assert staff_client.get(path).json()["amount"] == "1.00"
    # The shop it was paid to sees it in its balance entries, not here.
    for client in (auth_client(shop.owner), auth_client(UserFactory())):
        forbidden = client.get(path)
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "permission_denied")
    assert api_client.get(path).status_code == 401
    missing = staff_client.get("/api/v1/payouts/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
