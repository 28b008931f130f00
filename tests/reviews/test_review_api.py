import re
import uuid

import pytest

from apps.core.throttling import PostContentThrottle
from apps.reviews import services
from apps.reviews.models import Review
from tests.assertions import assert_problem
from tests.conftest import auth_client
from tests.reviews.conftest import assert_rating_consistent
from tests.reviews.factories import ProductFactory, ReviewFactory, delivered_line
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def reviews_url(product) -> str:
    return f"/api/v1/products/{product.pk}/reviews"


def review_url(review) -> str:
    return f"/api/v1/reviews/{review.pk}"


def test_create_review(product, user, user_client):
    delivered_line(buyer=user, product=product)

    response = user_client.post(
        reviews_url(product), {"rating": 5, "title": "Great", "body": "Works."}
    )

    assert response.status_code == 201
    body = response.json()
    review = Review.objects.get()
    assert body == {
        "id": str(review.pk),
        "product_id": str(product.pk),
        "author": {"id": str(user.pk), "name": user.name},
        "rating": 5,
        "title": "Great",
        "body": "Works.",
        "body_html": "Works.",
        "verified_purchase": True,
        "status": "published",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert_rating_consistent(product)


def test_create_by_slug_and_second_review_conflicts(product, user_client):
    url = f"/api/v1/products/{product.slug}/reviews"
    assert user_client.post(url, {"rating": 4}).status_code == 201

    response = user_client.post(url, {"rating": 1})

    assert_problem(response, 409, "review.exists")
    assert Review.objects.count() == 1
    product.refresh_from_db()
    assert product.rating_count == 1


def test_create_requires_authentication(product, api_client):
    response = api_client.post(reviews_url(product), {"rating": 5})
    assert_problem(response, 401)
    assert response["WWW-Authenticate"]
    assert not Review.objects.exists()


def test_seller_cannot_review_own_product(product, seller):
    response = auth_client(seller).post(reviews_url(product), {"rating": 5})
    assert_problem(response, 422, "review.own_product")


def test_purchase_required(product, user_client, settings):
    settings.REVIEWS_REQUIRE_PURCHASE = True
    response = user_client.post(reviews_url(product), {"rating": 5})
    assert_problem(response, 422, "review.purchase_required")
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "/rating"),
        ({"rating": 6}, "/rating"),
        ({"rating": "five"}, "/rating"),
        ({"rating": 3, "title": "t" * 121}, "/title"),
        ({"rating": 3, "body": "b" * 5001}, "/body"),
    ],
)
def test_invalid_input(product, user_client, payload, pointer):
    response = user_client.post(reviews_url(product), payload)
    body = assert_problem(response, 400, "invalid")
    assert pointer in [error["pointer"] for error in body["errors"]]
    assert not Review.objects.exists()


def test_malformed_json_is_400(product, user_client):
    response = user_client.post(reviews_url(product), data="{bad", content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_unpublished_product_is_404(user_client, api_client, status):
    product = ProductFactory(status=status)
    assert_problem(user_client.post(reviews_url(product), {"rating": 5}), 404)
    assert_problem(api_client.get(reviews_url(product)), 404)
    assert_problem(api_client.get(f"/api/v1/products/{uuid.uuid4()}/reviews"), 404)


def test_mass_assignment_is_ignored(product, user, user_client):
    other = ProductFactory()
    response = user_client.post(
        reviews_url(product),
        {
            "rating": 2,
            "verified_purchase": True,
            "status": "hidden",
            "author": str(UserFactory().pk),
            "product_id": str(other.pk),
            "rating_count": 99,
        },
    )
    assert response.status_code == 201
    review = Review.objects.get()
    assert (review.verified_purchase, review.status, review.author_id, review.product_id) == (
        False,
        "published",
        user.pk,
        product.pk,
    )


def test_script_never_comes_back_as_live_markup(product, user_client, api_client):
    payload = '<script>alert(1)</script>\n<img src=x onerror=alert(2)> & "q"'
    response = user_client.post(
        reviews_url(product), {"rating": 1, "title": "<b>bold</b>", "body": payload}
    )
    assert response.status_code == 201

    listed = api_client.get(reviews_url(product))
    assert listed["Content-Type"] == "application/json"
    assert listed["X-Content-Type-Options"] == "nosniff"
    item = listed.json()["results"][0]
    # The plain text comes back as typed (a JSON string, for textContent) ...
    assert item["body"] == payload
    assert item["title"] == "<b>bold</b>"
    # ... and the only HTML the API gives is escaped: no tag but the <br> it inserted.
    assert item["body_html"] == (
        "&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=alert(2)&gt; "
        "&amp; &quot;q&quot;"
    )
    assert "<" not in re.sub(r"<br>", "", item["body_html"])


def test_list_newest_first_with_cursor_pagination_and_rating_filter(product, api_client):
    reviews = [ReviewFactory(product=product, rating=1 + i % 5) for i in range(5)]
    ReviewFactory(product=product, status="hidden")
    ReviewFactory(product=ProductFactory())

    first = api_client.get(reviews_url(product), {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()

    assert set(first) == {"next", "previous", "results"}
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert ids == [str(r.pk) for r in reversed(reviews)]
    assert third["next"] is None

    filtered = api_client.get(reviews_url(product), {"rating": 2}).json()
    assert [r["id"] for r in filtered["results"]] == [str(reviews[1].pk)]
    body = assert_problem(api_client.get(reviews_url(product), {"rating": 9}), 400)
    assert body["errors"][0]["pointer"] == "/rating"


def test_list_query_count_is_constant(product, api_client, django_assert_num_queries):
    ReviewFactory(product=product)
    # product + page of reviews with author
    with django_assert_num_queries(2):
        assert len(api_client.get(reviews_url(product)).json()["results"]) == 1
    for n in range(19):
        ReviewFactory(product=product, rating=n % 5 + 1, verified_purchase=n % 2 == 0)
    with django_assert_num_queries(2):
        results = api_client.get(reviews_url(product)).json()["results"]
    assert len(results) == 20
    assert len({r["author"]["id"] for r in results}) == 20


# --- PATCH / DELETE permission matrix -----------------------------------------------------------


@pytest.fixture
def review(product):
    author = UserFactory()
    return services.review_create(product_id=product.pk, author=author, rating=4, body="Nice")


def test_author_edits_review(review, product):
    response = auth_client(review.author).patch(review_url(review), {"rating": 2, "body": "Meh"})
    assert response.status_code == 200
    assert (response.json()["rating"], response.json()["body"]) == (2, "Meh")
    assert_rating_consistent(product)


@pytest.mark.parametrize("who", ["other", "seller"])
def test_other_users_cannot_edit_or_delete(review, product, who):
    actor = UserFactory() if who == "other" else product.shop.owner
    client = auth_client(actor)
    assert_problem(client.patch(review_url(review), {"rating": 1}), 403, "review.forbidden")
    assert_problem(client.delete(review_url(review)), 403, "review.forbidden")
    review.refresh_from_db()
    assert review.rating == 4


def test_anonymous_cannot_edit_or_delete(review, api_client):
    assert_problem(api_client.patch(review_url(review), {"rating": 1}), 401)
    assert_problem(api_client.delete(review_url(review)), 401)
    assert Review.objects.filter(pk=review.pk, rating=4).exists()


def test_author_cannot_moderate(review, product):
    response = auth_client(review.author).patch(
        review_url(review), {"status": "hidden", "rating": 1}
    )
    assert_problem(response, 403, "review.status_forbidden")
    review.refresh_from_db()
    assert (review.status, review.rating) == ("published", 4)
    assert_rating_consistent(product)


def test_staff_hides_and_unhides(review, product, staff_client, api_client):
    response = staff_client.patch(review_url(review), {"status": "hidden"})
    assert response.status_code == 200
    assert response.json()["status"] == "hidden"
    product.refresh_from_db()
    assert product.rating_count == 0
    assert api_client.get(reviews_url(product)).json()["results"] == []
    assert_problem(api_client.get(review_url(review)), 404)
    assert_problem(auth_client(UserFactory()).get(review_url(review)), 404)
    assert auth_client(review.author).get(review_url(review)).status_code == 200

    assert staff_client.patch(review_url(review), {"status": "published"}).status_code == 200
    product.refresh_from_db()
    assert product.rating_count == 1
    assert_rating_consistent(product)
    assert_problem(staff_client.patch(review_url(review), {"status": "spam"}), 400)


def test_hidden_review_is_404_for_other_users(review, staff):
    services.review_moderate(review_id=review.pk, actor=staff, status="hidden")
    client = auth_client(UserFactory())
    assert_problem(client.patch(review_url(review), {"rating": 1}), 404, "review.not_found")
    assert_problem(client.delete(review_url(review)), 404, "review.not_found")


def test_author_and_staff_delete(product, staff_client):
    first = services.review_create(product_id=product.pk, author=UserFactory(), rating=5)
    second = services.review_create(product_id=product.pk, author=UserFactory(), rating=1)

    assert auth_client(first.author).delete(review_url(first)).status_code == 204
    assert staff_client.delete(review_url(second)).status_code == 204

    assert not Review.objects.exists()
    assert_rating_consistent(product)
    assert_problem(staff_client.delete(review_url(second)), 404)


def test_patch_ignores_fields_the_caller_does_not_own(review, product):
    response = auth_client(review.author).patch(
        review_url(review),
        {"verified_purchase": True, "author": str(UserFactory().pk), "product_id": "x"},
    )
    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.verified_purchase, review.product_id) == (False, product.pk)


def test_throttled_after_n_posts_a_minute_across_reviews_and_comments(user):
    limit = PostContentThrottle().num_requests
    client = auth_client(user)
    products = ProductFactory.create_batch(2)
    assert client.post(reviews_url(products[0]), {"rating": 5}).status_code == 201
    for _ in range(limit - 1):
        response = client.post(f"/api/v1/products/{products[0].pk}/comments", {"body": "hi"})
        assert response.status_code == 201

    response = client.post(reviews_url(products[1]), {"rating": 5})

    body = assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    assert body["retry_after"] >= 1
    assert not Review.objects.filter(product=products[1]).exists()
    # Reading is not throttled by the posting budget; other users still post.
    assert client.get(reviews_url(products[1])).status_code == 200
    assert (
        auth_client(UserFactory()).post(reviews_url(products[1]), {"rating": 3}).status_code == 201
    )


def test_products_of_suspended_shops_are_404(product, user_client, api_client):
    product.shop.status = "suspended"
    product.shop.save()
    assert_problem(api_client.get(reviews_url(product)), 404)
    assert_problem(user_client.post(reviews_url(product), {"rating": 5}), 404)
    assert_problem(api_client.get(f"/api/v1/products/{product.pk}/comments"), 404)
    assert not Review.objects.exists()
