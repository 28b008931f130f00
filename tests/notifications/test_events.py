"""Each event produces the right notifications for the right recipients, once."""

import uuid

import pytest
from django.core import mail

from apps.events import emit
from apps.notifications.models import EmailDelivery, Notification, NotificationPreference
from apps.notifications.tasks import notify_event
from apps.shops.models import ShopFollow
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def emit_committed(capture, event_type, key, data):
    with capture(execute=True):
        emit(event_type, key, data)


def received(user):
    return list(Notification.objects.filter(recipient=user).values_list("type", flat=True))


@pytest.fixture
def parties():
    buyer = UserFactory()
    shop = ShopFactory()
    bystander = UserFactory()
    return buyer, shop, bystander


def order_data(buyer, shop, **extra):
    return {
        "order_id": str(uuid.uuid4()),
        "number": "ORD-1",
        "buyer_id": str(buyer.pk),
        "seller_id": str(shop.owner_id),
        "shop_id": str(shop.pk),
        "total": "10.00",
        "currency": "USD",
        **extra,
    }


def test_order_placed_notifies_buyer_and_seller_only(parties, django_capture_on_commit_callbacks):
    buyer, shop, bystander = parties
    emit_committed(
        django_capture_on_commit_callbacks, "order.placed", "o1", order_data(buyer, shop)
    )
    assert received(buyer) == ["order.placed"]
    assert received(shop.owner) == ["order.placed"]
    assert received(bystander) == []
    assert Notification.objects.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([buyer.email, shop.owner.email])


@pytest.mark.parametrize(
    "event_type", ["order.confirmed", "order.shipped", "order.delivered", "order.refunded"]
)
def test_status_change_notifies_buyer_only(parties, event_type, django_capture_on_commit_callbacks):
    buyer, shop, _bystander = parties
    data = order_data(buyer, shop, tracking_number="TRK1")
    emit_committed(django_capture_on_commit_callbacks, event_type, "o1", data)
    assert received(buyer) == ["order.status_changed"]
    assert received(shop.owner) == []
    notification = Notification.objects.get(recipient=buyer)
    assert notification.title == f"Order ORD-1 {event_type.split('.')[1]}"
    assert "TRK1" in notification.body


@pytest.mark.parametrize(
    ("cancelled_by", "buyer_gets", "seller_gets"),
    [
        ("buyer", [], ["order.cancelled"]),
        ("seller", ["order.cancelled"], []),
        ("system", ["order.cancelled"], ["order.cancelled"]),
    ],
)
def test_cancellation_notifies_the_other_party(
    parties, cancelled_by, buyer_gets, seller_gets, django_capture_on_commit_callbacks
):
    buyer, shop, bystander = parties
    data = order_data(buyer, shop, cancelled_by=cancelled_by, reason="changed mind")
    emit_committed(django_capture_on_commit_callbacks, "order.cancelled", "o1", data)
    assert received(buyer) == buyer_gets
    assert received(shop.owner) == seller_gets
    assert received(bystander) == []


@pytest.mark.parametrize(
    ("event_type", "data", "expected_type"),
    [
        (
            "product.published",
            {"product_id": "p", "name": "Phone", "slug": "phone", "price": "9.99"},
            "shop.new_product",
        ),
        (
            "shop.new_discount",
            {"discount_id": "d", "code": "SAVE10", "name": "Save"},
            "shop.new_discount",
        ),
    ],
)
def test_shop_news_fans_out_to_followers_only(
    parties, event_type, data, expected_type, django_capture_on_commit_callbacks
):
    buyer, shop, _bystander = parties
    followers = UserFactory.create_batch(3)
    ShopFollow.objects.bulk_create([ShopFollow(shop=shop, user=u) for u in followers])
    emit_committed(
        django_capture_on_commit_callbacks, event_type, shop.pk, {**data, "shop_id": str(shop.pk)}
    )
    for follower in followers:
        assert received(follower) == [expected_type]
    assert received(buyer) == []
    assert received(shop.owner) == []
    # Promotional email is opt-in: nobody was mailed.
    assert mail.outbox == []


def test_republished_product_is_not_news_to_followers(parties, django_capture_on_commit_callbacks):
    buyer, shop, _bystander = parties
    ShopFollow.objects.create(shop=shop, user=buyer)
    data = {
        "product_id": "p",
        "shop_id": str(shop.pk),
        "name": "Phone",
        "slug": "phone",
        "price": "9.99",
    }
    emit_committed(
        django_capture_on_commit_callbacks,
        "product.published",
        "p",
        {**data, "first_publish": True},
    )
    for _ in range(3):
        emit_committed(
            django_capture_on_commit_callbacks,
            "product.published",
            "p",
            {**data, "first_publish": False},
        )

    (news,) = Notification.objects.filter(recipient=buyer)
    assert (news.type, news.title, news.data) == (
        "shop.new_product",
        "New: Phone",
        {**data, "first_publish": True},
    )
    assert Notification.objects.count() == 1


def test_seller_hears_about_a_follower_once_however_often_they_refollow(
    parties, django_capture_on_commit_callbacks
):
    buyer, shop, bystander = parties
    other_shop = ShopFactory()

    def followed(the_shop, user):
        data = {
            "shop_id": str(the_shop.pk),
            "user_id": str(user.pk),
            "seller_id": str(the_shop.owner_id),
        }
        emit_committed(django_capture_on_commit_callbacks, "shop.followed", the_shop.pk, data)
        return data

    first = followed(shop, buyer)
    for _ in range(3):  # unfollow and follow again: a new event each time
        followed(shop, buyer)
    followed(shop, bystander)
    followed(other_shop, buyer)

    told = list(Notification.objects.filter(type="shop.followed"))
    assert sorted((str(n.recipient_id), n.data["user_id"]) for n in told) == sorted(
        [
            (str(shop.owner_id), str(buyer.pk)),
            (str(shop.owner_id), str(bystander.pk)),
            (str(other_shop.owner_id), str(buyer.pk)),
        ]
    )
    assert Notification.objects.get(recipient=shop.owner, data__user_id=str(buyer.pk)).data == first
    assert Notification.objects.count() == 3


@pytest.mark.parametrize(
    ("event_type", "data", "expected_type"),
    [
        ("shop.followed", {"user_id": "u"}, "shop.followed"),
        ("stock.low", {"sku": "SKU-1", "available": 2, "threshold": 5}, "inventory.low_stock"),
        ("review.created", {"review_id": "r", "product_id": "p", "rating": 4}, "review.created"),
    ],
)
def test_seller_events_notify_the_seller_only(
    parties, event_type, data, expected_type, django_capture_on_commit_callbacks
):
    buyer, shop, bystander = parties
    payload = {**data, "shop_id": str(shop.pk), "seller_id": str(shop.owner_id)}
    emit_committed(django_capture_on_commit_callbacks, event_type, shop.pk, payload)
    assert received(shop.owner) == [expected_type]
    assert received(buyer) == []
    assert received(bystander) == []


def test_comment_reply_notifies_parent_author_but_not_self_replies(
    parties, django_capture_on_commit_callbacks
):
    buyer, _shop, bystander = parties
    data = {
        "comment_id": "c2",
        "parent_id": "c1",
        "product_id": "p",
        "parent_author_id": str(buyer.pk),
        "author_id": str(bystander.pk),
    }
    emit_committed(django_capture_on_commit_callbacks, "comment.reply", "p", data)
    assert received(buyer) == ["comment.reply"]
    assert received(bystander) == []

    self_reply = {**data, "author_id": str(buyer.pk)}
    emit_committed(django_capture_on_commit_callbacks, "comment.reply", "p", self_reply)
    assert received(buyer) == ["comment.reply"]


def test_redelivered_event_notifies_and_mails_once(parties, django_capture_on_commit_callbacks):
    buyer, shop, _ = parties
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": "order.placed",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "key": "o1",
        "data": order_data(buyer, shop),
    }
    with django_capture_on_commit_callbacks(execute=True):
        notify_event(envelope)
    with django_capture_on_commit_callbacks(execute=True):
        notify_event(envelope)
    assert Notification.objects.filter(recipient=buyer).count() == 1
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2
    assert EmailDelivery.objects.filter(sent_at__isnull=False).count() == 2


def test_preferences_are_respected_per_channel(parties, django_capture_on_commit_callbacks):
    buyer, shop, _ = parties
    NotificationPreference.objects.create(
        user=buyer, type="order.placed", channel="in_app", enabled=False
    )
    NotificationPreference.objects.create(
        user=shop.owner, type="order.placed", channel="email", enabled=False
    )
    emit_committed(
        django_capture_on_commit_callbacks, "order.placed", "o1", order_data(buyer, shop)
    )
    # The buyer: email only (kept out of the feed); the seller: in-app only.
    assert [m.to for m in mail.outbox] == [[buyer.email]]
    assert Notification.objects.get(recipient=buyer).in_app is False
    assert Notification.objects.get(recipient=shop.owner).in_app is True


def test_promotional_email_when_opted_in_carries_unsubscribe(
    parties, django_capture_on_commit_callbacks
):
    buyer, shop, _ = parties
    ShopFollow.objects.create(shop=shop, user=buyer)
    NotificationPreference.objects.create(
        user=buyer, type="shop.new_discount", channel="email", enabled=True
    )
    emit_committed(
        django_capture_on_commit_callbacks,
        "shop.new_discount",
        shop.pk,
        {"shop_id": str(shop.pk), "code": "SAVE10", "name": "Save 10"},
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "SAVE10" in message.body
    assert "Unsubscribe" in message.body
    assert "Unsubscribe" in message.alternatives[0][0]
