"""Order and review rows for the reviews tests, made directly with the models; products come from
the catalog's factories."""

from decimal import Decimal

import factory

from apps.orders.models import Checkout, Order, OrderLine
from apps.reviews.models import Review
from tests.catalog.factories import ProductFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

__all__ = ["ProductFactory", "ReviewFactory", "delivered_line"]

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "state": "",
    "postal_code": "12345",
    "country": "US",
    "phone": "+15550000000",
}


class CheckoutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Checkout

    number = factory.Sequence(lambda n: f"CHK-R{n:06d}")
    buyer = factory.SubFactory(UserFactory)
    currency = "USD"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    checkout = factory.SubFactory(CheckoutFactory, buyer=factory.SelfAttribute("..buyer"))
    number = factory.Sequence(lambda n: f"ORD-R{n:06d}")
    buyer = factory.SubFactory(UserFactory)
    shop = factory.SubFactory(ShopFactory)
    status = Order.Status.DELIVERED
    currency = "USD"
    subtotal = Decimal("10.00")
    total = Decimal("10.00")
    shipping_address = factory.LazyFunction(lambda: dict(ADDRESS))


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    product_name = factory.LazyAttribute(lambda o: o.product.name)
    sku = factory.Sequence(lambda n: f"RSKU-{n:05d}")
    unit_price = Decimal("10.00")
    quantity = 1
    line_total = Decimal("10.00")


def delivered_line(*, buyer, product, status: str = Order.Status.DELIVERED) -> OrderLine:
    order = OrderFactory(buyer=buyer, shop=product.shop, status=status)
    return OrderLineFactory(order=order, product=product)


class ReviewFactory(factory.django.DjangoModelFactory):
    """Raw rows (no rating refresh): for listings. Use services.review_create for aggregates."""

    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    author = factory.SubFactory(UserFactory)
    rating = 4
    title = "Good"
    body = "Does what it says."
