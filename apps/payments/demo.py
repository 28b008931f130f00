"""Demo card order for `manage.py seed_demo`: placed by the demo customer with `card`, paid,
confirmed, shipped and delivered, so the ledger has a card sale.

Offline by design: only with the demo provider (PAYMENT_PROVIDER=demo, the embedded default
without STRIPE_SECRET_KEY), which records the intent and its payment without any network. With
Stripe configured the card order is skipped (a real intent can only be paid by a browser).
Idempotent: placed with its own idempotency key, so a second run finds it and moves nothing.
"""

from typing import Any

from apps.catalog.models import Product
from apps.inventory.models import StockItem
from apps.orders.demo import DEMO_ADDRESS, DEMO_CUSTOMER
from apps.orders.models import Checkout, Order
from apps.orders.pricing import ItemInput
from apps.orders.services import order_place, order_transition
from apps.payments import intents
from apps.payments.models import Payment
from apps.payments.providers import current
from apps.payments.providers.demo import DemoProvider
from apps.users.models import User

KEY = "demo-order-card"
MOVES: list[tuple[str, dict[str, Any]]] = [
    ("confirmed", {}),
    ("shipped", {"tracking_number": "1Z999AA10789"}),
    ("delivered", {}),
]


def seed(stdout: Any) -> None:
    provider = current()
    if not isinstance(provider, DemoProvider):
        stdout.write(f"payments: card demo order skipped (PAYMENT_PROVIDER is {provider.name})")
        return
    customer = User.objects.filter(email=DEMO_CUSTOMER).first()
    if customer is None:
        stdout.write("payments: no demo customer yet; skipped")
        return
    if Checkout.objects.filter(buyer=customer, idempotency_key=KEY).exists():
        stdout.write("payments: demo card order already there")
        return
    item = (
        StockItem.objects.filter(
            variant__is_active=True,
            variant__product__status=Product.Status.PUBLISHED,
            on_hand__gte=5,
        )
        .order_by("variant__product__shop__slug", "-variant__sku")
        .first()
    )
    if item is None or item.available < 1:
        stdout.write("payments: no stocked demo products yet; skipped")
        return
    checkout = order_place(
        buyer=customer,
        items=[ItemInput(variant_id=item.variant_id, quantity=1)],
        shipping_address=DEMO_ADDRESS,
        payment_method=Order.PaymentMethod.CARD,
        idempotency_key=KEY,
    )
    payment = Payment.objects.get(checkout=checkout)
    intent = provider.intent_succeed(payment.intent_id)
    intents.payment_intent_succeeded(intent=intent, provider=provider.name)
    for order in Order.objects.filter(checkout=checkout).select_related("shop"):
        for to, extra in MOVES:
            order_transition(
                order_id=order.pk, to=to, actor=order.shop.owner, actor_role="seller", **extra
            )
    stdout.write(f"payments: demo card order {checkout.number} paid and delivered")
