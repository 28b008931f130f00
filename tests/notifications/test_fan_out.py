import uuid

import pytest
from django.contrib.auth import get_user_model

from apps.notifications import tasks
from apps.notifications.models import Announcement, Notification
from apps.notifications.services import announcement_send
from apps.shops.models import ShopFollow
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db


def make_followers(shop, count):
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(email=f"f{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(count)]
    )
    ShopFollow.objects.bulk_create([ShopFollow(shop=shop, user=u) for u in users])
    return users


def test_fan_out_to_5000_followers_is_bounded(
    monkeypatch, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    shop = ShopFactory()
    make_followers(shop, 5000)
    calls = []
    original = tasks.notify_audience_chunk.run

    def counting(**kwargs):
        calls.append(kwargs.get("after"))
        return original(**kwargs)

    monkeypatch.setattr(tasks.notify_audience_chunk, "run", counting)
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": "product.published",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "key": str(shop.pk),
        "data": {"shop_id": str(shop.pk), "product_id": "p", "name": "Lamp"},
    }

    # Six chunk tasks (five full pages and the empty one that ends the chain), a handful of
    # queries each: the cost grows with the number of chunks, never with a query per follower.
    with django_assert_max_num_queries(60), django_capture_on_commit_callbacks(execute=True):
        tasks.notify_event(envelope)

    assert len(calls) == 6
    assert calls[0] is None
    assert Notification.objects.filter(type="shop.new_product").count() == 5000
    assert Notification.objects.values("recipient").distinct().count() == 5000


def test_announcement_reaches_every_active_user_once(django_capture_on_commit_callbacks):
    User = get_user_model()
    User.objects.bulk_create(
        [User(email=f"a{i}@example.com") for i in range(3)]
        + [User(email="gone@example.com", is_active=False)]
    )
    announcement = Announcement.objects.create(title="Maintenance", body="Sunday 2am")

    with django_capture_on_commit_callbacks(execute=True):
        assert announcement_send(announcement=announcement) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert announcement_send(announcement=announcement) is False

    assert Notification.objects.filter(type="announcement").count() == 3
    assert not Notification.objects.filter(recipient__email="gone@example.com").exists()
