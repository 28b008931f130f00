import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from apps.catalog.models import Product
from apps.core.errors import InvalidInput
from apps.events.models import OutboxEvent
from apps.orders.models import Order
from apps.reviews import services
from apps.reviews.errors import (
    ProductNotFound,
    ReviewExists,
    ReviewForbidden,
    ReviewNotFound,
    ReviewOwnProduct,
    ReviewPurchaseRequired,
    ReviewStatusForbidden,
)
from apps.reviews.models import Review
from tests.reviews.conftest import assert_rating_consistent
from tests.reviews.factories import ProductFactory, delivered_line
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_publishes_review_and_sets_rating(product):
    author = UserFactory()

    review = services.review_create(product_id=product.pk, author=author, rating=4, title="Ok")

    assert review.status == Review.Status.PUBLISHED
    assert review.verified_purchase is False
    product.refresh_from_db()
    assert product.rating_avg == Decimal("4.00")
    assert product.rating_count == 1
    assert product.rating_histogram == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert_rating_consistent(product)


def test_rating_invariant_after_every_kind_of_change(product, staff):
    users = UserFactory.create_batch(4)
    reviews = [
        services.review_create(product_id=product.pk, author=user, rating=rating)
        for user, rating in zip(users, [5, 4, 4, 1], strict=True)
    ]
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("3.50"), 4)
    assert product.rating_histogram == {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1}
    assert_rating_consistent(product)

    services.review_update(review_id=reviews[3].pk, actor=users[3], rating=2)  # edit rating
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("3.75"), 4)
    assert_rating_consistent(product)

    services.review_moderate(review_id=reviews[0].pk, actor=staff, status="hidden")  # hide
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("3.33"), 3)
    assert product.rating_histogram == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 0}
    assert_rating_consistent(product)

    services.review_update(review_id=reviews[1].pk, actor=users[1], rating=5)  # edit while
    services.review_moderate(review_id=reviews[0].pk, actor=staff, status="published")  # unhide
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("4.00"), 4)
    assert_rating_consistent(product)

    services.review_delete(review_id=reviews[2].pk, actor=users[2])  # delete
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("4.00"), 3)
    assert_rating_consistent(product)

    for review, user in zip(reviews[:2] + reviews[3:], users[:2] + users[3:], strict=True):
        services.review_delete(review_id=review.pk, actor=user)
    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (Decimal("0.00"), 0)
    assert product.rating_histogram == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    assert_rating_consistent(product)


def test_text_edit_keeps_rating_and_hidden_reviews_are_not_counted(product, staff):
    author = UserFactory()
    review = services.review_create(product_id=product.pk, author=author, rating=2)
    services.review_moderate(review_id=review.pk, actor=staff, status="hidden")

    services.review_update(review_id=review.pk, actor=author, body="Changed my mind", rating=5)

    review.refresh_from_db()
    assert (review.status, review.rating, review.body) == ("hidden", 5, "Changed my mind")
    product.refresh_from_db()
    assert product.rating_count == 0
    assert_rating_consistent(product)


def test_shop_rating_spans_its_products_and_follows_after_commit(
    product, staff, django_capture_on_commit_callbacks
):
    second = ProductFactory(shop=product.shop)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_create(product_id=product.pk, author=UserFactory(), rating=5)
    with django_capture_on_commit_callbacks(execute=True):
        hidden = services.review_create(product_id=second.pk, author=UserFactory(), rating=2)
    product.shop.refresh_from_db()
    assert (product.shop.rating_avg, product.shop.rating_count) == (Decimal("3.50"), 2)

    with django_capture_on_commit_callbacks(execute=True):
        services.review_moderate(review_id=hidden.pk, actor=staff, status="hidden")

    product.shop.refresh_from_db()
    assert (product.shop.rating_avg, product.shop.rating_count) == (Decimal("5.00"), 1)
    assert_rating_consistent(second, shop=True)


def test_second_review_by_same_author_is_refused(product):
    author = UserFactory()
    services.review_create(product_id=product.pk, author=author, rating=5)

    with pytest.raises(ReviewExists):
        services.review_create(product_id=product.pk, author=author, rating=1)

    assert Review.objects.filter(product=product).count() == 1
    product.refresh_from_db()
    assert product.rating_avg == Decimal("5.00")


def test_verified_purchase_needs_a_delivered_line(product):
    buyer, pending_buyer = UserFactory(), UserFactory()
    delivered_line(buyer=buyer, product=product)
    delivered_line(buyer=pending_buyer, product=product, status=Order.Status.SHIPPED)

    verified = services.review_create(product_id=product.pk, author=buyer, rating=5)
    unverified = services.review_create(product_id=product.pk, author=pending_buyer, rating=3)

    assert verified.verified_purchase is True
    assert unverified.verified_purchase is False


def test_author_edit_after_delivery_marks_review_verified(product):
    buyer = UserFactory()
    review = services.review_create(product_id=product.pk, author=buyer, rating=5)
    delivered_line(buyer=buyer, product=product)

    services.review_update(review_id=review.pk, actor=buyer, title="Arrived")

    review.refresh_from_db()
    assert review.verified_purchase is True


def test_purchase_required_setting(product, settings):
    settings.REVIEWS_REQUIRE_PURCHASE = True
    buyer, stranger = UserFactory(), UserFactory()
    delivered_line(buyer=buyer, product=product)

    with pytest.raises(ReviewPurchaseRequired):
        services.review_create(product_id=product.pk, author=stranger, rating=1)
    review = services.review_create(product_id=product.pk, author=buyer, rating=4)

    assert review.verified_purchase is True
    assert list(Review.objects.values_list("author_id", flat=True)) == [buyer.pk]


def test_seller_cannot_review_own_product(product, seller):
    with pytest.raises(ReviewOwnProduct):
        services.review_create(product_id=product.pk, author=seller, rating=5)
    assert not Review.objects.exists()


@pytest.mark.parametrize("status", [Product.Status.DRAFT, Product.Status.ARCHIVED])
def test_unpublished_products_cannot_be_reviewed(status):
    product = ProductFactory(status=status)
    with pytest.raises(ProductNotFound):
        services.review_create(product_id=product.pk, author=UserFactory(), rating=5)
    assert not Review.objects.exists()


@pytest.mark.parametrize("rating", [0, 6, True, "5"])
def test_rating_out_of_range_is_invalid(product, rating):
    with pytest.raises(InvalidInput):
        services.review_create(product_id=product.pk, author=UserFactory(), rating=rating)
    assert not Review.objects.exists()


def test_text_is_cleaned_and_limited(product):
    review = services.review_create(
        product_id=product.pk,
        author=UserFactory(),
        rating=3,
        title="  Two\nlines\x00  ",
        body=" a < b\r\nnext\x07 ",
    )
    assert (review.title, review.body) == ("Two lines", "a < b\nnext")

    with pytest.raises(InvalidInput) as error:
        services.review_create(
            product_id=product.pk, author=UserFactory(), rating=3, body="x" * 5001
        )
    assert error.value.errors[0]["pointer"] == "/body"


def test_event_review_created(product):
    author = UserFactory()
    review = services.review_create(product_id=product.pk, author=author, rating=4)

    event = OutboxEvent.objects.get(type="review.created")
    assert event.topic == "reviews"
    assert event.key == str(review.pk)  # the aggregate; the product is in the data
    assert event.payload == {
        "review_id": str(review.pk),
        "product_id": str(product.pk),
        "shop_id": str(product.shop_id),
        "seller_id": str(product.shop.owner_id),
        "author_id": str(author.pk),
        "rating": 4,
    }


def test_failed_create_emits_nothing(product):
    author = UserFactory()
    services.review_create(product_id=product.pk, author=author, rating=4)
    with pytest.raises(ReviewExists):
        services.review_create(product_id=product.pk, author=author, rating=4)
    assert OutboxEvent.objects.filter(type="review.created").count() == 1


def test_permissions_of_changes(product, staff):
    author, other = UserFactory(), UserFactory()
    review = services.review_create(product_id=product.pk, author=author, rating=4)

    with pytest.raises(ReviewForbidden):
        services.review_update(review_id=review.pk, actor=other, rating=1)
    with pytest.raises(ReviewForbidden):
        services.review_delete(review_id=review.pk, actor=other)
    with pytest.raises(ReviewStatusForbidden):
        services.review_update(review_id=review.pk, actor=author, status="published")

    services.review_moderate(review_id=review.pk, actor=staff, status="hidden")
    with pytest.raises(ReviewNotFound):  # a hidden review is invisible to other users
        services.review_update(review_id=review.pk, actor=other, rating=1)
    review.refresh_from_db()
    assert (review.rating, review.status) == (4, "hidden")

    services.review_update(review_id=review.pk, actor=staff, title="Moderated")
    services.review_delete(review_id=review.pk, actor=staff)
    assert not Review.objects.exists()
    assert_rating_consistent(product)


def test_rating_refresh_bumps_product_cache(product, django_capture_on_commit_callbacks):
    from apps.catalog import cache as catalog_cache

    key = catalog_cache._version_key(catalog_cache._product(product.pk))
    before = catalog_cache._current_version(catalog_cache._product(product.pk))

    with django_capture_on_commit_callbacks(execute=True):
        services.review_create(product_id=product.pk, author=UserFactory(), rating=4)

    from django.core.cache import cache

    assert cache.get(key) != before


def test_purchase_is_required_by_default_except_in_the_demo_settings():
    """Production (base) requires a delivered order to review; the embedded demo (dev), whose
    seeded reviewers bought nothing, does not. Read in a fresh interpreter without the variable."""
    env = {k: v for k, v in os.environ.items() if k != "REVIEWS_REQUIRE_PURCHASE"}
    script = (
        "import config.settings.base as base, config.settings.dev as dev;"
        "print(base.REVIEWS_REQUIRE_PURCHASE, dev.REVIEWS_REQUIRE_PURCHASE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["True", "False"]
