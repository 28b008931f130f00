from decimal import Decimal

import factory

from apps.discounts.models import Discount
from tests.shops.factories import ShopFactory


class DiscountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discount

    shop = factory.SubFactory(ShopFactory)
    code = factory.Sequence(lambda n: f"CODE{n}")
    name = factory.Sequence(lambda n: f"Discount {n}")
    type = Discount.Type.PERCENTAGE
    value = Decimal("10.00")
    is_active = True
    is_public = True
