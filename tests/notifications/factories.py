import uuid

import factory

from apps.notifications.models import Notification
from tests.users.factories import UserFactory


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    type = "order.placed"
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Body"
    data = factory.LazyFunction(dict)
    event_id = factory.LazyFunction(uuid.uuid4)
