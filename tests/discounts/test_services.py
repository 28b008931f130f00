import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.discounts import errors
from apps.discounts.models import Discount, DiscountRedemption
from apps.discounts.services import (
    RedemptionInput,
    discount_create,
    discount_redeem,
    discount_release,
    discounts_redeem,
)
from apps.events.models import OutboxEvent
from tests.discounts.factories import DiscountFactory
from tests.services import need_postgres
from tests.users.factories import ShopFactory, UserFactory

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


@pytest.mark.parametrize(("is_public", "is_active"), [(False, True), (True, False)])
def test_private_or_inactive_code_emits_nothing(is_public, is_active):
    discount_create(
        shop=ShopFactory(),
        code="HUSH",
        name="Hush",
        type="fixed_amount",
        value=Decimal("5"),
        is_public=is_public,
        is_active=is_active,
    )
    assert not OutboxEvent.objects.filter(type="shop.new_discount").exists()


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
