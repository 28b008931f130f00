"""Concurrent writers on PostgreSQL (SQLite serialises writers, so it proves nothing there)."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from apps.reviews import services
from apps.reviews.errors import CommentNotFound, CommentParentNotFound, ReviewExists
from apps.reviews.models import Comment, Review
from tests.reviews.conftest import assert_rating_consistent
from tests.reviews.factories import ProductFactory
from tests.services import need_postgres
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def run_concurrently(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in threads released together; returns each result or raised exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def worker(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except Exception as error:  # reported to the test
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def errors(results: list[object]) -> list[Exception]:
    return [r for r in results if isinstance(r, Exception)]


def test_concurrent_review_changes_keep_rating_equal_to_published_reviews():
    need_postgres()
    product = ProductFactory()
    sibling = ProductFactory(shop=product.shop)
    staff = UserFactory(is_staff=True)
    authors = UserFactory.create_batch(10)

    def create(author, rating, target=product):
        return lambda: services.review_create(product_id=target.pk, author=author, rating=rating)

    results = run_concurrently(
        [create(a, 1 + i % 5) for i, a in enumerate(authors[:8])]
        + [create(a, 5, sibling) for a in authors[8:]]
    )
    assert errors(results) == []
    assert_rating_consistent(product, shop=True)
    assert_rating_consistent(sibling, shop=True)
    product.refresh_from_db()
    assert product.rating_count == 8

    reviews = list(Review.objects.filter(product=product).order_by("created_at"))
    jobs = [
        *(
            (lambda r=r: services.review_update(review_id=r.pk, actor=r.author, rating=5))
            for r in reviews[:3]
        ),
        *(
            (lambda r=r: services.review_delete(review_id=r.pk, actor=r.author))
            for r in reviews[3:5]
        ),
        *(
            (lambda r=r: services.review_moderate(review_id=r.pk, actor=staff, status="hidden"))
            for r in reviews[5:7]
        ),
        create(UserFactory(), 2),
        create(UserFactory(), 3, sibling),
    ]
    assert errors(run_concurrently(jobs)) == []

    assert_rating_consistent(product, shop=True)
    assert_rating_consistent(sibling, shop=True)
    product.refresh_from_db()
    assert product.rating_count == 8 - 2 - 2 + 1


def test_racing_duplicate_reviews_create_exactly_one():
    need_postgres()
    product = ProductFactory()
    author = UserFactory()

    results = run_concurrently(
        [lambda: services.review_create(product_id=product.pk, author=author, rating=5)] * 4
    )

    assert len([r for r in results if isinstance(r, Review)]) == 1
    assert all(isinstance(e, ReviewExists) for e in errors(results))
    assert len(errors(results)) == 3
    assert_rating_consistent(product, shop=True)


def test_concurrent_replies_to_one_parent_keep_the_tree_consistent():
    need_postgres()
    product = ProductFactory()
    root = services.comment_create(product_id=product.pk, author=UserFactory(), body="root")
    parent = services.comment_create(
        product_id=product.pk, author=UserFactory(), body="parent", parent_id=root.pk
    )
    users = UserFactory.create_batch(12)

    results = run_concurrently(
        [
            (
                lambda u=u, i=i: services.comment_create(
                    product_id=product.pk, author=u, body=f"reply {i}", parent_id=parent.pk
                )
            )
            for i, u in enumerate(users)
        ]
    )

    assert errors(results) == []
    parent.refresh_from_db()
    assert parent.numchild == 12
    children = Comment.objects.filter(parent=parent)
    assert children.count() == 12
    assert len({c.path for c in children}) == 12
    assert Comment.objects.find_problems() == ([], [], [], [], [])


def test_concurrent_top_level_comments_all_get_a_path():
    need_postgres()
    products = ProductFactory.create_batch(2)
    users = UserFactory.create_batch(12)

    results = run_concurrently(
        [
            (
                lambda u=u, i=i: services.comment_create(
                    product_id=products[i % 2].pk, author=u, body=f"top {i}"
                )
            )
            for i, u in enumerate(users)
        ]
    )

    assert errors(results) == []
    assert Comment.objects.filter(depth=1).count() == 12
    assert Comment.objects.find_problems() == ([], [], [], [], [])


def test_thread_removal_racing_replies_leaves_no_orphans():
    need_postgres()
    product = ProductFactory()
    user = UserFactory()
    staff = UserFactory(is_staff=True)
    root = services.comment_create(product_id=product.pk, author=user, body="root")
    nodes = [root]
    for i in range(6):
        nodes.append(
            services.comment_create(
                product_id=product.pk, author=user, body=f"n{i}", parent_id=nodes[i // 2].pk
            )
        )
    survivor = services.comment_create(product_id=product.pk, author=user, body="survivor")

    jobs = [
        (
            lambda n=n: services.comment_create(
                product_id=product.pk,
                author=user,
                body="late",
                parent_id=n.pk,
            )
        )
        for n in nodes[1:]
    ]
    jobs.append(lambda: services.comment_delete(comment_id=root.pk, actor=staff, thread=True))
    results = run_concurrently(jobs)

    assert all(isinstance(e, CommentParentNotFound | CommentNotFound) for e in errors(results))
    assert list(Comment.objects.values_list("pk", flat=True)) == [survivor.pk]
    assert Comment.objects.find_problems() == ([], [], [], [], [])
    assert connection.vendor == "postgresql"
