import uuid

import pytest

from apps.reviews import services
from apps.reviews.models import Comment
from tests.assertions import assert_problem
from tests.conftest import auth_client
from tests.reviews.factories import ProductFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def comments_url(product) -> str:
    return f"/api/v1/products/{product.pk}/comments"


def add(product, author, body="hi", parent=None) -> Comment:
    return services.comment_create(
        product_id=product.pk, author=author, body=body, parent_id=parent.pk if parent else None
    )


def test_post_comment_and_reply(product, user, user_client):
    response = user_client.post(comments_url(product), {"body": "Is it waterproof?"})
    assert response.status_code == 201
    root = response.json()
    assert root == {
        "id": root["id"],
        "product_id": str(product.pk),
        "parent_id": None,
        "reply_to_id": None,
        "author": {"id": str(user.pk), "name": user.name},
        "body": "Is it waterproof?",
        "body_html": "Is it waterproof?",
        "is_deleted": False,
        "created_at": root["created_at"],
        "updated_at": root["updated_at"],
    }

    reply = auth_client(product.shop.owner).post(
        f"/api/v1/products/{product.slug}/comments", {"body": "Yes.", "parent_id": root["id"]}
    )
    assert reply.status_code == 201
    assert (reply.json()["parent_id"], reply.json()["reply_to_id"]) == (root["id"], root["id"])
    assert Comment.objects.get(pk=root["id"]).numchild == 1


def test_post_errors(product, user_client, api_client):
    foreign = add(ProductFactory(), UserFactory())

    body = assert_problem(
        user_client.post(comments_url(product), {"body": "x", "parent_id": str(foreign.pk)}),
        400,
        "comment.parent_mismatch",
    )
    assert body["errors"][0]["pointer"] == "/parent_id"
    assert_problem(
        user_client.post(comments_url(product), {"body": "x", "parent_id": str(uuid.uuid4())}),
        404,
        "comment.parent_not_found",
    )
    body = assert_problem(
        user_client.post(comments_url(product), {"body": "x", "parent_id": "nope"}), 400
    )
    assert body["errors"][0]["pointer"] == "/parent_id"
    body = assert_problem(user_client.post(comments_url(product), {"body": "y" * 2001}), 400)
    assert body["errors"][0]["pointer"] == "/body"
    assert_problem(user_client.post(comments_url(product), {}), 400)
    assert_problem(api_client.post(comments_url(product), {"body": "x"}), 401)
    assert_problem(
        user_client.post(comments_url(ProductFactory(status="draft")), {"body": "x"}), 404
    )
    assert Comment.objects.count() == 1


def test_mass_assignment_is_ignored(product, user, user_client):
    response = user_client.post(
        comments_url(product),
        {"body": "x", "is_deleted": True, "author": str(UserFactory().pk), "depth": 5},
    )
    assert response.status_code == 201
    comment = Comment.objects.get()
    assert (comment.is_deleted, comment.author_id, comment.depth) == (False, user.pk, 1)


def test_script_is_returned_escaped_only(product, user_client, api_client):
    user_client.post(comments_url(product), {"body": "<script>alert(1)</script>"})
    item = api_client.get(comments_url(product)).json()["results"][0]
    assert item["body"] == "<script>alert(1)</script>"
    assert item["body_html"] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_top_level_list_newest_first_with_reply_count(product, api_client):
    alice = UserFactory()
    first = add(product, alice, "first")
    second = add(product, alice, "second")
    third = add(product, alice, "third")
    child = add(product, alice, "child", first)
    add(product, alice, "grandchild", child)
    add(product, alice, "sibling", first)
    add(ProductFactory(), alice, "elsewhere")

    page1 = api_client.get(comments_url(product), {"page_size": 2}).json()
    page2 = api_client.get(page1["next"]).json()

    assert [c["body"] for c in page1["results"] + page2["results"]] == [
        "third",
        "second",
        "first",
    ]
    counts = {c["id"]: c["reply_count"] for c in page1["results"] + page2["results"]}
    assert counts == {str(third.pk): 0, str(second.pk): 0, str(first.pk): 3}
    assert page2["next"] is None


def test_replies_in_reading_order_with_relative_depth_and_pagination(product, api_client):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    a = add(product, bob, "a", root)
    a1 = add(product, alice, "a1", a)
    b = add(product, bob, "b", root)
    add(product, bob, "a1x", a1)
    add(product, alice, "b1", b)
    add(product, bob, "a2", a)

    url = f"/api/v1/comments/{root.pk}/replies"
    pages = [api_client.get(url, {"page_size": 2}).json()]
    while pages[-1]["next"]:
        pages.append(api_client.get(pages[-1]["next"]).json())

    items = [c for page in pages for c in page["results"]]
    assert [(c["body"], c["depth"]) for c in items] == [
        ("a", 1),
        ("a1", 2),
        ("a1x", 3),
        ("a2", 2),
        ("b", 1),
        ("b1", 2),
    ]
    assert len(pages) == 3
    sub = api_client.get(f"/api/v1/comments/{a.pk}/replies").json()["results"]
    assert [(c["body"], c["depth"]) for c in sub] == [("a1", 1), ("a1x", 2), ("a2", 1)]
    assert_problem(api_client.get(f"/api/v1/comments/{uuid.uuid4()}/replies"), 404)


def test_listings_of_unpublished_products_are_404(product, api_client):
    comment = add(product, UserFactory())
    product.status = "draft"
    product.save()
    assert_problem(api_client.get(comments_url(product)), 404)
    assert_problem(api_client.get(f"/api/v1/comments/{comment.pk}/replies"), 404)
    assert_problem(api_client.get(f"/api/v1/comments/{comment.pk}"), 404)
    # The seller still sees the discussion of their draft.
    assert auth_client(product.shop.owner).get(f"/api/v1/comments/{comment.pk}").status_code == 200


def test_top_level_query_count_is_constant(product, api_client, django_assert_num_queries):
    user = UserFactory()
    root = add(product, user)
    add(product, user, parent=root)
    # product + page of comments with author and reply_count
    with django_assert_num_queries(2):
        assert len(api_client.get(comments_url(product)).json()["results"]) == 1
    for _ in range(19):
        parent = add(product, UserFactory())
        add(product, UserFactory(), parent=add(product, UserFactory(), parent=parent))
    with django_assert_num_queries(2):
        results = api_client.get(comments_url(product)).json()["results"]
    assert len(results) == 20
    assert {c["reply_count"] for c in results} == {1, 2}
    assert len({c["author"]["id"] for c in results}) == 20


def test_replies_query_count_is_constant(product, api_client, django_assert_num_queries):
    root = add(product, UserFactory())
    parent = add(product, UserFactory(), parent=root)
    url = f"/api/v1/comments/{root.pk}/replies"
    # root with product and shop + page of the thread with author
    with django_assert_num_queries(2):
        assert len(api_client.get(url).json()["results"]) == 1
    for _ in range(19):
        parent = add(product, UserFactory(), parent=parent if parent.depth < 6 else root)
    with django_assert_num_queries(2):
        results = api_client.get(url).json()["results"]
    assert len(results) == 20
    assert len({c["depth"] for c in results}) > 3
    assert len({c["author"]["id"] for c in results}) == 20


# --- PATCH / DELETE permission matrix -----------------------------------------------------------


@pytest.fixture
def thread(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    reply = add(product, bob, "reply", root)
    return root, reply


def test_patch_matrix(thread, product, staff_client, api_client):
    root, _ = thread
    url = f"/api/v1/comments/{root.pk}"
    assert_problem(api_client.patch(url, {"body": "x"}), 401)
    assert_problem(auth_client(UserFactory()).patch(url, {"body": "x"}), 403, "comment.forbidden")
    assert_problem(staff_client.patch(url, {"body": "x"}), 403, "comment.forbidden")
    assert_problem(auth_client(product.shop.owner).patch(url, {"body": "x"}), 403)
    assert_problem(auth_client(root.author).patch(url, {"body": ""}), 400)
    root.refresh_from_db()
    assert root.body == "root"

    response = auth_client(root.author).patch(url, {"body": "edited", "is_deleted": True})
    assert response.status_code == 200
    assert (response.json()["body"], response.json()["is_deleted"]) == ("edited", False)
    assert response.json()["reply_count"] == 1
    assert_problem(api_client.patch(f"/api/v1/comments/{uuid.uuid4()}", {"body": "x"}), 401)
    assert_problem(
        auth_client(root.author).patch(f"/api/v1/comments/{uuid.uuid4()}", {"body": "x"}), 404
    )


def test_author_delete_blanks_then_listing_shows_placeholder(thread, product, api_client):
    root, reply = thread
    response = auth_client(root.author).delete(f"/api/v1/comments/{root.pk}")
    assert response.status_code == 204

    item = api_client.get(comments_url(product)).json()["results"][0]
    assert (item["id"], item["author"], item["body"], item["is_deleted"], item["reply_count"]) == (
        str(root.pk),
        None,
        "",
        True,
        1,
    )
    replies = api_client.get(f"/api/v1/comments/{root.pk}/replies").json()["results"]
    assert [c["id"] for c in replies] == [str(reply.pk)]
    # Nobody is its author any more; editing the blank is refused.
    assert_problem(
        auth_client(root.author).patch(f"/api/v1/comments/{root.pk}", {"body": "x"}),
        409,
        "comment.deleted",
    )


def test_author_delete_of_leaf_removes_it(thread):
    _, reply = thread
    assert auth_client(reply.author).delete(f"/api/v1/comments/{reply.pk}").status_code == 204
    assert not Comment.objects.filter(pk=reply.pk).exists()
    assert Comment.objects.get().numchild == 0


def test_delete_matrix(thread, product, api_client):
    root, _ = thread
    url = f"/api/v1/comments/{root.pk}"
    assert_problem(api_client.delete(url), 401)
    assert_problem(auth_client(UserFactory()).delete(url), 403, "comment.forbidden")
    assert_problem(
        auth_client(root.author).delete(url + "?thread=true"),
        403,
        "comment.thread_delete_forbidden",
    )
    body = assert_problem(auth_client(root.author).delete(url + "?thread=maybe"), 400)
    assert body["errors"][0]["pointer"] == "/thread"
    assert Comment.objects.count() == 2
    assert not Comment.objects.filter(is_deleted=True).exists()
    assert_problem(auth_client(root.author).delete(f"/api/v1/comments/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize("who", ["staff", "seller"])
def test_staff_and_seller_remove_whole_thread(thread, product, staff, who):
    root, _ = thread
    other = add(product, UserFactory(), "other")
    client = auth_client(staff if who == "staff" else product.shop.owner)

    response = client.delete(f"/api/v1/comments/{root.pk}?thread=true")

    assert response.status_code == 204
    assert list(Comment.objects.values_list("pk", flat=True)) == [other.pk]
    assert Comment.objects.find_problems() == ([], [], [], [], [])


def test_seller_of_another_shop_cannot_remove_threads(thread):
    root, _ = thread
    other_seller = ProductFactory().shop.owner
    response = auth_client(other_seller).delete(f"/api/v1/comments/{root.pk}?thread=true")
    assert_problem(response, 403, "comment.thread_delete_forbidden")
    assert Comment.objects.count() == 2
