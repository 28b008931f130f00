import factory

from apps.users.models import Address, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    name = factory.Faker("name")
    line1 = factory.Sequence(lambda n: f"{n} Main Street")
    city = "Springfield"
    postal_code = "12345"
    country = "US"
    phone = "+1 555 010 0000"


def address_payload(**overrides: object) -> dict:
    """A valid address body for the API."""
    return {
        "name": "Jane Doe",
        "line1": "1 Infinite Loop",
        "line2": "",
        "city": "Cupertino",
        "state": "CA",
        "postal_code": "95014",
        "country": "US",
        "phone": "+1 408 555 0100",
        **overrides,
    }
