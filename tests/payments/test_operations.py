"""Operations around payments: `payments_reconcile`, `payouts_report`, the admin, the demo
data, minor units, and the layering rule that keeps Stripe inside apps/payments."""

import ast
import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.orders.models import Order
from apps.payments.minor_units import from_minor, to_minor
from apps.payments.models import LedgerEntry, Payment, Payout, Refund
from tests.orders.factories import ShopFactory, UserFactory
from tests.payments import stripe_fakes
from tests.payments.conftest import orders_of, pay, payment_of, place_card

APPS = Path(__file__).resolve().parents[2] / "apps"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_stripe_provider_imports_stripe():
    importers = {
        str(path.relative_to(APPS))
        for path in APPS.rglob("*.py")
        if any(name == "stripe" or name.startswith("stripe.") for name in _imports(path))
    }
    assert importers == {"payments/providers/stripe.py"}


@pytest.mark.parametrize(
    "lower",
    ["core", "events", "users", "media", "catalog", "inventory", "discounts", "cart", "orders"],
)
def test_apps_below_payments_never_name_it(lower):
    for path in (APPS / lower).rglob("*.py"):
        source = path.read_text()
        assert not any(name.startswith("apps.payments") for name in _imports(path)), path
        assert "apps.payments" not in source, path  # no string lookups either


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [("12.34", "USD", 1234), ("0.50", "eur", 50), ("1500.00", "JPY", 1500), ("1.23", "KWD", 1230)],
)
def test_minor_units_convert_exactly(amount, currency, units):
    assert to_minor(Decimal(amount), currency) == units
    assert from_minor(units, currency) == Decimal(amount)


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "USD"), ("10.50", "JPY")])
def test_an_amount_finer_than_the_currency_is_refused(amount, currency):
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        to_minor(Decimal(amount), currency)


@pytest.mark.django_db
@pytest.mark.usefixtures("stripe_api")
def test_reconcile_reports_and_fixes_a_missed_webhook(buyer_client, variant):
    body = place_card(buyer_client, (variant, 1))
    payment = payment_of(body)
    stripe_fakes.confirm(payment.intent_id)  # paid at Stripe; the webhook never came
    since = (timezone.now() - timedelta(hours=1)).isoformat()

    report = io.StringIO()
    call_command("payments_reconcile", "--since", since, stdout=report)

    assert f"{body['checkout_number']}: paid at the provider, awaiting_payment here" in (
        report.getvalue()
    )
    assert report.getvalue().rstrip().endswith("1 difference(s), 0 fixed.")
    payment.refresh_from_db()
    assert payment.status == "awaiting_payment"

    fixed = io.StringIO()
    call_command("payments_reconcile", "--since", since, "--fix", stdout=fixed)

    assert "(fixed)" in fixed.getvalue()
    payment.refresh_from_db()
    assert payment.status == "paid"
    assert Order.objects.get().payment_status == "paid"
    clean = io.StringIO()
    call_command("payments_reconcile", "--since", since, stdout=clean)
    assert clean.getvalue().rstrip().endswith("0 difference(s), 0 fixed.")


@pytest.mark.django_db
@pytest.mark.usefixtures("stripe_api")
def test_reconcile_reports_a_refund_made_outside_the_platform(
    buyer_client, api_client, variant, stripe_api
):
    import requests

    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)
    payment = payment_of(body)
    requests.post(
        f"{stripe_api}/v1/refunds",
        data={"payment_intent": payment.intent_id, "amount": 500},
        headers={"Authorization": f"Bearer {stripe_fakes.SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()

    report = io.StringIO()
    call_command("payments_reconcile", stdout=report)

    assert "of 5.00 made outside the platform" in report.getvalue()
    assert "refunded 5.00 at the provider, 0.00 here" in report.getvalue()


@pytest.mark.django_db
def test_payouts_report_writes_a_csv(staff, tmp_path):
    shop = ShopFactory(slug="theta", name="Theta")
    LedgerEntry.objects.create(
        posting="sale:t",
        account="shop",
        kind="sale",
        amount=Decimal("80.00"),
        shop=shop,
        currency="USD",
        available_at=timezone.now() - timedelta(days=1),
    )
    from apps.payments.ledger import payout_create

    payout = payout_create(shop_id=shop.pk, amount=Decimal("30.00"), reference="R-1", actor=staff)
    today = timezone.now().date().isoformat()
    out = tmp_path / "payouts.csv"

    call_command("payouts_report", "--from", today, "--to", today, "--output", str(out))

    rows = list(csv.DictReader(out.open()))
    assert rows == [
        {
            "payout_id": str(payout.pk),
            "created_at": payout.created_at.isoformat(),
            "shop_id": str(shop.pk),
            "shop_slug": "theta",
            "shop_name": "Theta",
            "amount": "30.00",
            "currency": "USD",
            "reference": "R-1",
            "recorded_by": staff.email,
            "shop_available_now": "50.00",
            "shop_pending_now": "0.00",
        }
    ]
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    empty = io.StringIO()
    call_command("payouts_report", "--from", yesterday, "--to", yesterday, stdout=empty)
    assert empty.getvalue().strip().splitlines() == [",".join(
        [
            "payout_id", "created_at", "shop_id", "shop_slug", "shop_name", "amount",
            "currency", "reference", "recorded_by", "shop_available_now", "shop_pending_now",
        ]
    )]  # fmt: skip
    assert Payout.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("stripe_api")
def test_admin_shows_the_payment_and_staff_can_refund(buyer_client, api_client, variant):
    from django.test import Client

    staff = UserFactory(is_staff=True, is_superuser=True)
    body = place_card(buyer_client, (variant, 1))
    pay(api_client, body)
    payment = payment_of(body)
    client = Client()
    client.force_login(staff)

    listing = client.get(reverse("admin:payments_payment_changelist"))
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    refunded = client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "refund_orders", "_selected_action": [str(payment.pk)]},
    )

    assert listing.status_code == 200
    assert payment.intent_id in listing.content.decode()
    assert page.status_code == 200
    assert payment.intent_id in page.content.decode()
    assert refunded.status_code == 302
    (order,) = orders_of(body)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    refund = Refund.objects.get()
    assert (refund.status, refund.requested_by, refund.transition_role) == (
        "succeeded",
        staff,
        "staff",
    )
    history = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert refund.provider_refund_id in history.content.decode()
    for name in ("refund", "providerevent", "ledgerentry", "payout"):
        assert client.get(reverse(f"admin:payments_{name}_changelist")).status_code == 200


@pytest.mark.django_db
def test_payouts_are_listed_in_the_admin(staff):
    from django.test import Client

    from apps.payments.ledger import payout_create

    shop = ShopFactory(slug="iota", name="Iota")
    LedgerEntry.objects.create(
        posting="sale:i",
        account="shop",
        kind="sale",
        amount=Decimal("50.00"),
        shop=shop,
        currency="USD",
        available_at=timezone.now() - timedelta(days=1),
    )
    payout = payout_create(
        shop_id=shop.pk, amount=Decimal("20.00"), reference="SEPA-77", actor=staff
    )
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)

    listing = client.get(reverse("admin:payments_payout_changelist"))
    page = client.get(reverse("admin:payments_payout_change", args=[payout.pk]))

    assert listing.status_code == 200
    assert "SEPA-77" in listing.content.decode()
    assert page.status_code == 200
    assert "SEPA-77" in page.content.decode()
    # Append-only: no adding or deleting payouts in the admin (POST /payouts records them).
    assert client.get(reverse("admin:payments_payout_add")).status_code == 403


@pytest.mark.django_db
def test_seed_demo_adds_a_paid_delivered_card_order_offline(settings):
    settings.PAYMENT_PROVIDER = "demo"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: no network is used

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent

    (card,) = Order.objects.filter(payment_method="card")
    assert (card.status, card.payment_status) == ("delivered", "paid")
    payment = Payment.objects.get()
    assert (payment.provider, payment.status, payment.amount_received) == (
        "demo",
        "paid",
        card.total,
    )
    entries = LedgerEntry.objects.filter(order=card)
    assert {(e.account, e.kind) for e in entries} >= {
        ("shop", "sale"),
        ("commission", "commission"),
    }
    assert sum(e.amount for e in entries) == 0


def test_the_payment_statuses_orders_documents_are_the_payments():
    from apps.orders.api.serializers import CHECKOUT_PAYMENT_STATUSES

    assert Payment.Status.values == CHECKOUT_PAYMENT_STATUSES
