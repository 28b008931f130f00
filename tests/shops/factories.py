import factory
from django.utils.text import slugify

from apps.shops.models import Shop
from tests.users.factories import UserFactory


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    description = "A fine shop."
