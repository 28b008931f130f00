import importlib
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.utils import timezone

from apps.discounts import errors
from apps.discounts.models import Discount, DiscountRedemption
from apps.discounts.services import (
    RedemptionInput,
    discount_create,
    discount_redeem,
    discount_release,
    discount_update,
    discounts_announce_started,
    discounts_redeem,
)
from apps.discounts.tasks import announce_started_discounts
from apps.events.models import OutboxEvent
from apps.shops.models import Shop
from tests.discounts.factories import DiscountFactory
from tests.services import need_postgres
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _redeem(discount, user, amount="5.00"):
    with transaction.atomic():
        return discount_redeem(
            discount_id=discount.pk, user=user, order_id=uuid.uuid4(), amount=Decimal(amount)
        )


def test_public_active_code_emits_shop_new_discount():
    shop = ShopFactory()
    ends = timezone.now() + timedelta(days=7)
    discount = discount_create(
        shop=shop,
        code="SUMMER",
        name="Summer",
        description="Ten off",
        type="percentage",
        value=Decimal("10"),
        ends_at=ends,
        is_public=True,
    )
    event = OutboxEvent.objects.get(type="shop.new_discount")
    assert event.key == str(shop.pk)
    assert event.payload == {
        "discount_id": str(discount.pk),
        "shop_id": str(shop.pk),
        "code": "SUMMER",
        "name": "Summer",
        "description": "Ten off",
        "type": "percentage",
        "value": "10.00",
        "ends_at": ends.isoformat(),
    }
    assert Discount.objects.get(pk=discount.pk).announced_at is not None


@pytest.mark.parametrize(("is_public", "is_active"), [(False, True), (True, False)])
def test_private_or_inactive_code_emits_nothing(is_public, is_active):
    discount = discount_create(
        shop=ShopFactory(),
        code="HUSH",
        name="Hush",
        type="fixed_amount",
        value=Decimal("5"),
        is_public=is_public,
        is_active=is_active,
    )
    assert not OutboxEvent.objects.filter(type="shop.new_discount").exists()
    assert Discount.objects.get(pk=discount.pk).announced_at is None


def _announcements(discount):
    return list(
        OutboxEvent.objects.filter(
            type="shop.new_discount", payload__discount_id=str(discount.pk)
        ).values_list("key", "payload")
    )


def _private_code(**fields):
    return discount_create(
        shop=ShopFactory(),
        code="LATER",
        name="Later",
        type="fixed_amount",
        value=Decimal("5"),
        **fields,
    )


def test_update_that_makes_a_code_public_announces_it_once():
    discount = _private_code(is_public=False)
    assert discount.announced_at is None

    updated = discount_update(discount=discount, is_public=True)

    assert updated.announced_at is not None
    assert _announcements(discount) == [
        (
            str(discount.shop_id),
            {
                "discount_id": str(discount.pk),
                "shop_id": str(discount.shop_id),
                "code": "LATER",
                "name": "Later",
                "description": "",
                "type": "fixed_amount",
                "value": "5.00",
                "ends_at": None,
            },
        )
    ]
    announced_at = Discount.objects.get(pk=discount.pk).announced_at
    assert announced_at == updated.announced_at
    # Hidden and shown again, edited while public: not news any more.
    discount_update(discount=discount, is_public=False)
    discount_update(discount=discount, is_public=True)
    discount_update(discount=discount, name="Renamed", is_public=True)
    assert len(_announcements(discount)) == 1
    assert Discount.objects.get(pk=discount.pk).announced_at == announced_at


def test_switching_on_an_inactive_public_code_announces_it_once():
    discount = _private_code(is_public=True, is_active=False)
    assert _announcements(discount) == []

    discount_update(discount=discount, is_active=True)
    discount_update(discount=discount, is_active=False)
    discount_update(discount=discount, is_active=True)

    assert len(_announcements(discount)) == 1


def test_a_code_announced_at_creation_is_not_announced_again():
    discount = _private_code(is_public=True)
    announced_at = discount.announced_at
    assert announced_at is not None
    discount_update(discount=discount, is_active=False)
    discount_update(discount=discount, is_active=True)
    assert len(_announcements(discount)) == 1
    assert Discount.objects.get(pk=discount.pk).announced_at == announced_at


@pytest.mark.parametrize(
    "fields",
    [
        {"is_public": True, "is_active": False},  # public but off
        {"is_active": True},  # on but private
        {"name": "Renamed"},  # nothing about visibility changed
    ],
)
def test_update_that_leaves_a_code_unlisted_announces_nothing(fields):
    discount = _private_code(is_public=False, is_active=False)
    discount_update(discount=discount, **fields)
    assert _announcements(discount) == []
    assert Discount.objects.get(pk=discount.pk).announced_at is None


def test_failed_update_announces_nothing():
    discount = _private_code(is_public=False)
    with pytest.raises(errors.DiscountInvalid):
        discount_update(discount=discount, is_public=True, value=Decimal("0"))
    assert _announcements(discount) == []
    stored = Discount.objects.get(pk=discount.pk)
    assert (stored.is_public, stored.announced_at) == (False, None)


def test_migration_counts_live_codes_as_announced():
    migration = importlib.import_module("apps.discounts.migrations.0002_discount_announced_at")
    live = DiscountFactory(is_public=True, is_active=True)
    private = DiscountFactory(is_public=False, is_active=True)
    off = DiscountFactory(is_public=True, is_active=False)

    migration.mark_live_codes_announced(django_apps, None)

    assert Discount.objects.get(pk=live.pk).announced_at == live.created_at
    assert Discount.objects.get(pk=private.pk).announced_at is None
    assert Discount.objects.get(pk=off.pk).announced_at is None
    # Switched off and on again later, the live code is not announced a second time.
    discount_update(discount=live, is_active=False)
    discount_update(discount=live, is_active=True)
    assert _announcements(live) == []


def test_redeem_counts_and_refuses_beyond_max_uses():
    discount = DiscountFactory(max_uses=2)
    user = UserFactory()
    _redeem(discount, user)
    _redeem(discount, UserFactory())
    with pytest.raises(errors.DiscountUsageLimit):
        _redeem(discount, UserFactory())
    discount.refresh_from_db()
    assert discount.uses_count == 2
    assert DiscountRedemption.objects.count() == 2


def test_redeem_refuses_beyond_the_per_user_limit_and_changes_nothing():
    discount = DiscountFactory(max_uses_per_user=1)
    user = UserFactory()
    _redeem(discount, user)
    with pytest.raises(errors.DiscountUserUsageLimit):
        _redeem(discount, user)
    discount.refresh_from_db()
    assert discount.uses_count == 1
    assert DiscountRedemption.objects.count() == 1
    _redeem(discount, UserFactory())


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"is_active": False}, errors.DiscountInactive),
        ({"starts_at": timezone.now() + timedelta(days=1)}, errors.DiscountNotStarted),
        ({"ends_at": timezone.now() - timedelta(seconds=1)}, errors.DiscountExpired),
    ],
)
def test_redeem_rechecks_the_code_state(fields, error):
    discount = DiscountFactory(**fields)
    with pytest.raises(error):
        _redeem(discount, UserFactory())
    discount.refresh_from_db()
    assert discount.uses_count == 0


def test_redeem_unknown_discount_is_not_found():
    with pytest.raises(errors.DiscountNotFound), transaction.atomic():
        discount_redeem(
            discount_id=uuid.uuid4(), user=UserFactory(), order_id=uuid.uuid4(), amount=Decimal(1)
        )


def test_release_gives_the_use_back_once():
    discount = DiscountFactory(max_uses=1, max_uses_per_user=1)
    user = UserFactory()
    redemption = _redeem(discount, user)
    assert discount_release(order_id=redemption.order_id) == 1
    assert discount_release(order_id=redemption.order_id) == 0
    discount.refresh_from_db()
    assert discount.uses_count == 0
    redemption.refresh_from_db()
    assert redemption.released_at is not None
    _redeem(discount, user)  # the same user may use it again: the released use no longer counts


def test_redeem_many_is_all_or_nothing():
    ok = DiscountFactory()
    used_up = DiscountFactory(max_uses=1, uses_count=1)
    user = UserFactory()
    order_id = uuid.uuid4()
    with pytest.raises(errors.DiscountUsageLimit), transaction.atomic():
        discounts_redeem(
            user=user,
            redemptions=[
                RedemptionInput(discount_id=ok.pk, order_id=order_id, amount=Decimal(1)),
                RedemptionInput(discount_id=used_up.pk, order_id=order_id, amount=Decimal(1)),
            ],
        )
    ok.refresh_from_db()
    assert ok.uses_count == 0
    assert not DiscountRedemption.objects.exists()


def _race(discount_id, users, workers):
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(user):
        try:
            barrier.wait()
            with transaction.atomic():
                discount_redeem(
                    discount_id=discount_id, user=user, order_id=uuid.uuid4(), amount=Decimal(1)
                )
            result = "ok"
        except errors.DiscountRefused as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_max_uses_holds_under_ten_concurrent_redemptions():
    need_postgres()
    discount = DiscountFactory(max_uses=3)
    users = [UserFactory() for _ in range(10)]
    outcomes = _race(discount.pk, users, 10)
    assert sorted(outcomes) == ["discount.usage_limit"] * 7 + ["ok"] * 3
    assert Discount.objects.get(pk=discount.pk).uses_count == 3
    assert DiscountRedemption.objects.filter(discount=discount).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_max_uses_per_user_holds_under_concurrency():
    need_postgres()
    discount = DiscountFactory(max_uses_per_user=2)
    user = UserFactory()
    outcomes = _race(discount.pk, [user] * 8, 8)
    assert sorted(outcomes) == ["discount.user_usage_limit"] * 6 + ["ok"] * 2
    assert Discount.objects.get(pk=discount.pk).uses_count == 2
    assert DiscountRedemption.objects.filter(discount=discount, user=user).count() == 2


# --- codes that start later are announced when they start


def test_a_public_code_that_starts_later_is_announced_when_it_starts(settings):
    now = timezone.now()
    later = discount_create(
        shop=ShopFactory(),
        code="SOON",
        name="Soon",
        type="percentage",
        value=Decimal("10"),
        starts_at=now + timedelta(hours=2),
        is_public=True,
    )
    ended = DiscountFactory(
        is_public=True, starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    assert _announcements(later) == []
    assert Discount.objects.get(pk=later.pk).announced_at is None

    assert discounts_announce_started(now=now + timedelta(hours=1)) == 0
    assert _announcements(later) == []

    at = now + timedelta(hours=2, minutes=3)
    assert discounts_announce_started(now=at) == 1
    [(key, payload)] = _announcements(later)
    assert key == str(later.shop_id)
    assert (payload["code"], payload["discount_id"]) == ("SOON", str(later.pk))
    assert Discount.objects.get(pk=later.pk).announced_at == at
    assert _announcements(ended) == []
    # the next sweep, through the task, finds nothing: each code is announced once
    assert announce_started_discounts.apply().get() == 0
    assert len(_announcements(later)) == 1
    entry = settings.CELERY_BEAT_SCHEDULE["discounts-announce-started"]
    assert (entry["task"], entry["schedule"]) == ("discounts.announce_started", 300.0)


def test_a_code_of_a_suspended_shop_is_not_announced_when_it_starts():
    now = timezone.now()
    code = DiscountFactory(is_public=True, starts_at=now + timedelta(minutes=5))
    Shop.objects.filter(pk=code.shop_id).update(status=Shop.Status.SUSPENDED)
    assert discounts_announce_started(now=now + timedelta(minutes=10)) == 0
    assert _announcements(code) == []
