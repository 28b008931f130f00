"""Demo reviews and a comment thread on the first demo products. Idempotent.

Runs after the catalog and orders demos (see the shops app's seed_demo); without published
products it says so and does nothing.
"""

from typing import Any

from apps.catalog.models import Product
from apps.reviews import services
from apps.reviews.errors import ReviewExists, ReviewOwnProduct, ReviewPurchaseRequired
from apps.reviews.models import Comment, Review
from apps.users.models import User

REVIEWERS = [
    ("customer@example.com", "Casey Customer"),
    ("riley.reviewer@example.com", "Riley Reviewer"),
    ("quinn.reviewer@example.com", "Quinn Reviewer"),
]
REVIEWS = [
    (5, "Exactly as described", "Arrived quickly and works perfectly.\nWould buy again."),
    (4, "Good value", "Does the job. Packaging could be better."),
    (3, "It's OK", "Fine for the price, nothing special."),
]


def _reviewer(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, name=name)
    return user


def seed(stdout: Any) -> None:
    products = list(
        Product.objects.filter(status=Product.Status.PUBLISHED)
        .select_related("shop")
        .order_by("created_at", "id")[:3]
    )
    if not products:
        stdout.write("reviews: no published products yet (run the catalog demo first); skipped")
        return
    reviewers = [_reviewer(email, name) for email, name in REVIEWERS]

    created = 0
    for index, product in enumerate(products):
        for offset, author in enumerate(reviewers):
            rating, title, body = REVIEWS[(index + offset) % len(REVIEWS)]
            if Review.objects.filter(product=product, author=author).exists():
                continue
            try:
                services.review_create(
                    product_id=product.pk, author=author, rating=rating, title=title, body=body
                )
                created += 1
            # With REVIEWS_REQUIRE_PURCHASE (on outside the development settings) only a
            # reviewer with a delivered order of the product gets a review in.
            except (ReviewExists, ReviewOwnProduct, ReviewPurchaseRequired):
                continue

    product = products[0]
    comments = 0
    if not Comment.objects.filter(product=product).exists():
        casey, riley, quinn = reviewers
        question = services.comment_create(
            product_id=product.pk, author=casey, body="Does this ship with a charger?"
        )
        answer = services.comment_create(
            product_id=product.pk,
            author=product.shop.owner,
            body="Yes, a 20 W USB-C charger is in the box.",
            parent_id=question.pk,
        )
        services.comment_create(
            product_id=product.pk, author=casey, body="Great, thanks!", parent_id=answer.pk
        )
        services.comment_create(
            product_id=product.pk,
            author=riley,
            body="Mine came with one too.",
            parent_id=question.pk,
        )
        services.comment_create(
            product_id=product.pk, author=quinn, body="Is there a version in blue?"
        )
        comments = 5
    stdout.write(f"reviews: {created} reviews and {comments} comments added")
