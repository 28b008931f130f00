from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from apps.catalog.models import Product
from apps.reviews.models import Review
from apps.shops.models import Shop
from tests.reviews.factories import ProductFactory
from tests.users.factories import UserFactory


@pytest.fixture
def product(db):
    return ProductFactory()


@pytest.fixture
def seller(product):
    return product.shop.owner


@pytest.fixture
def other_user(db):
    return UserFactory()


def expected_rating(reviews) -> tuple[Decimal, int, dict[str, int]]:
    """The rating the published reviews say, computed independently in Python."""
    ratings = [r.rating for r in reviews if r.status == Review.Status.PUBLISHED]
    counts = Counter(ratings)
    average = (
        (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if ratings
        else Decimal("0.00")
    )
    return average, len(ratings), {str(star): counts.get(star, 0) for star in range(1, 6)}


def assert_rating_consistent(product: Product, *, shop: bool = False) -> None:
    """The product's rating equals its published reviews; with `shop`, the shop's rating (kept
    after commit) equals the published reviews of all its products."""
    product.refresh_from_db()
    average, count, histogram = expected_rating(Review.objects.filter(product=product))
    assert (product.rating_avg, product.rating_count, product.rating_histogram) == (
        average,
        count,
        histogram,
    )
    if shop:
        row = Shop.objects.get(pk=product.shop_id)
        shop_average, shop_count, _ = expected_rating(Review.objects.filter(product__shop=row))
        assert (row.rating_avg, row.rating_count) == (shop_average, shop_count)
