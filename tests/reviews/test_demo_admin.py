import io

import pytest
from django.contrib.admin.sites import site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from apps.reviews import demo, services
from apps.reviews.admin import CommentAdmin, ReviewAdmin
from apps.reviews.models import Comment, Review
from tests.reviews.conftest import assert_rating_consistent
from tests.reviews.factories import ProductFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_seed_without_products_does_nothing():
    out = io.StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue()
    assert not Review.objects.exists()
    assert not Comment.objects.exists()


def test_demo_seed_is_idempotent():
    products = ProductFactory.create_batch(3)
    ProductFactory(status="draft")

    demo.seed(io.StringIO())
    counts = (Review.objects.count(), Comment.objects.count())
    demo.seed(io.StringIO())

    assert counts == (9, 5)
    assert (Review.objects.count(), Comment.objects.count()) == counts
    for product in products:
        assert_rating_consistent(product)
    assert Comment.objects.find_problems() == ([], [], [], [], [])


def test_demo_seed_with_purchases_required_reviews_only_what_reviewers_received(settings):
    """The production-like stack seeds the demo with REVIEWS_REQUIRE_PURCHASE on: the reviewers
    without a delivered order are skipped instead of failing the seed."""
    from tests.reviews.factories import delivered_line

    settings.REVIEWS_REQUIRE_PURCHASE = True
    products = ProductFactory.create_batch(3)
    casey = UserFactory(email="customer@example.com")
    delivered_line(buyer=casey, product=products[0])

    demo.seed(io.StringIO())

    assert list(Review.objects.values_list("author__email", "product_id")) == [
        ("customer@example.com", products[0].pk)
    ]
    assert Review.objects.get().verified_purchase is True
    assert Comment.objects.count() == 5


def _request(user):
    request = RequestFactory().post("/admin/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_admin_hide_and_publish_actions_go_through_the_services(staff):
    product = ProductFactory()
    reviews = [
        services.review_create(product_id=product.pk, author=UserFactory(), rating=r)
        for r in (5, 1)
    ]
    admin = ReviewAdmin(Review, site)
    queryset = Review.objects.filter(pk=reviews[1].pk)

    admin.hide_reviews(_request(staff), queryset)
    reviews[1].refresh_from_db()
    assert reviews[1].status == "hidden"
    product.refresh_from_db()
    assert (product.rating_count, str(product.rating_avg)) == (1, "5.00")

    admin.publish_reviews(_request(staff), queryset)
    product.refresh_from_db()
    assert product.rating_count == 2
    assert_rating_consistent(product)


def test_admin_remove_threads_action(staff):
    product = ProductFactory()
    user = UserFactory()
    root = services.comment_create(product_id=product.pk, author=user, body="root")
    child = services.comment_create(
        product_id=product.pk, author=user, body="child", parent_id=root.pk
    )
    keep = services.comment_create(product_id=product.pk, author=user, body="keep")

    CommentAdmin(Comment, site).remove_threads(
        _request(staff), Comment.objects.filter(pk__in=[root.pk, child.pk])
    )

    assert list(Comment.objects.values_list("pk", flat=True)) == [keep.pk]
    assert Comment.objects.find_problems() == ([], [], [], [], [])


def test_admin_changelists_render(staff, client):
    product = ProductFactory()
    services.review_create(product_id=product.pk, author=UserFactory(), rating=4)
    services.comment_create(product_id=product.pk, author=UserFactory(), body="x")
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    assert client.get("/admin/reviews/review/").status_code == 200
    assert client.get("/admin/reviews/comment/").status_code == 200
