import pytest

from apps.core.errors import InvalidInput
from apps.events.models import OutboxEvent
from apps.reviews import services
from apps.reviews.errors import (
    CommentDeleted,
    CommentForbidden,
    CommentNotFound,
    CommentParentMismatch,
    CommentParentNotFound,
    CommentThreadDeleteForbidden,
    ProductNotFound,
)
from apps.reviews.models import Comment
from apps.reviews.selectors import comment_list_top_level, comment_thread
from tests.reviews.factories import ProductFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def add(product, author, body="hi", parent=None):
    return services.comment_create(
        product_id=product.pk, author=author, body=body, parent_id=parent.pk if parent else None
    )


def assert_tree_sound():
    assert Comment.objects.find_problems() == ([], [], [], [], [])
    for node in Comment.objects.all():
        expected_parent = Comment.objects.get_parent(node)
        assert node.parent_id == (expected_parent.pk if expected_parent else None)


def test_multi_level_thread_in_reading_order_with_depth(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    a = add(product, bob, "a", root)
    a1 = add(product, alice, "a1", a)
    b = add(product, bob, "b", root)
    a1x = add(product, bob, "a1x", a1)
    add(product, bob, "a2", a)
    b1 = add(product, alice, "b1", b)
    add(product, alice, "other root")

    thread = list(comment_thread(root=root))

    assert [c.body for c in thread] == ["a", "a1", "a1x", "a2", "b", "b1"]
    assert [c.depth - root.depth for c in thread] == [1, 2, 3, 2, 1, 2]
    assert [c.parent_id for c in thread] == [root.pk, a.pk, a1.pk, a.pk, root.pk, b.pk]
    assert [c.body for c in comment_thread(root=a)] == ["a1", "a1x", "a2"]
    assert list(comment_thread(root=b1)) == []
    counts = {c.body: c.reply_count for c in comment_list_top_level(product=product)}
    assert counts == {"root": 6, "other root": 0}
    assert a1x.reply_to_id == a1.pk
    assert_tree_sound()


def test_reply_beyond_max_depth_attaches_to_deepest_allowed_ancestor(product, settings):
    settings.COMMENTS_MAX_DEPTH = 3
    user = UserFactory()
    level1 = add(product, user, "1")
    level2 = add(product, user, "2", level1)
    level3 = add(product, user, "3", level2)

    too_deep = add(product, user, "4", level3)
    deeper_still = add(product, user, "5", too_deep)

    assert (too_deep.depth, too_deep.parent_id, too_deep.reply_to_id) == (3, level2.pk, level3.pk)
    assert (deeper_still.depth, deeper_still.parent_id, deeper_still.reply_to_id) == (
        3,
        level2.pk,
        too_deep.pk,
    )
    assert [c.body for c in comment_thread(root=level1)] == ["2", "3", "4", "5"]
    assert_tree_sound()


def test_max_depth_one_makes_replies_top_level(product, settings):
    settings.COMMENTS_MAX_DEPTH = 1
    user = UserFactory()
    first = add(product, user, "first")
    reply = add(product, user, "reply", first)
    assert (reply.depth, reply.parent_id, reply.reply_to_id) == (1, None, first.pk)
    assert_tree_sound()


def test_parent_of_another_product_is_refused(product):
    other = add(ProductFactory(), UserFactory())
    with pytest.raises(CommentParentMismatch) as error:
        add(product, UserFactory(), parent=other)
    assert error.value.errors[0]["pointer"] == "/parent_id"
    assert Comment.objects.count() == 1


def test_unknown_parent_and_unpublished_product(product):
    import uuid

    with pytest.raises(CommentParentNotFound):
        services.comment_create(
            product_id=product.pk, author=UserFactory(), body="x", parent_id=uuid.uuid4()
        )
    with pytest.raises(ProductNotFound):
        add(ProductFactory(status="draft"), UserFactory())
    assert not Comment.objects.exists()


def test_blank_and_too_long_bodies_are_invalid(product):
    with pytest.raises(InvalidInput):
        add(product, UserFactory(), " \x00 ")
    with pytest.raises(InvalidInput):
        add(product, UserFactory(), "x" * 2001)
    assert not Comment.objects.exists()


def test_reply_event_goes_to_parent_author_but_not_to_oneself(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice)
    reply = add(product, bob, parent=root)
    add(product, alice, parent=root)  # alice answering in her own thread: no event

    events = list(OutboxEvent.objects.filter(type="comment.reply"))
    assert len(events) == 1
    assert events[0].key == str(reply.pk)  # the reply; the product is in the data
    assert events[0].payload == {
        "comment_id": str(reply.pk),
        "parent_id": str(root.pk),
        "parent_author_id": str(alice.pk),
        "product_id": str(product.pk),
        "author_id": str(bob.pk),
    }


def test_author_delete_blanks_a_comment_with_replies_and_removes_a_leaf(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    reply = add(product, bob, "reply", root)

    result = services.comment_delete(comment_id=root.pk, actor=alice)

    assert result == {"removed": 0, "blanked": True}
    root.refresh_from_db()
    assert (root.is_deleted, root.body, root.author_id, root.numchild) == (True, "", None, 1)
    assert Comment.objects.filter(pk=reply.pk).exists()

    # Removing the last reply of a blanked comment removes the now empty placeholder too.
    result = services.comment_delete(comment_id=reply.pk, actor=bob)
    assert result == {"removed": 2, "blanked": False}
    assert not Comment.objects.exists()
    assert_tree_sound()


def test_leaf_delete_updates_parent_numchild(product):
    alice = UserFactory()
    root = add(product, alice, "root")
    first = add(product, alice, "first", root)
    add(product, alice, "second", root)

    services.comment_delete(comment_id=first.pk, actor=alice)

    root.refresh_from_db()
    assert root.numchild == 1
    assert [c.body for c in comment_thread(root=root)] == ["second"]
    # A new reply after the deletion still gets a fresh path.
    add(product, alice, "third", root)
    assert [c.body for c in comment_thread(root=root)] == ["second", "third"]
    assert_tree_sound()


@pytest.mark.parametrize("moderator", ["staff", "seller"])
def test_thread_delete_by_staff_and_seller(product, staff, moderator):
    actor = staff if moderator == "staff" else product.shop.owner
    user = UserFactory()
    root = add(product, user, "root")
    keep = add(product, user, "keep", root)
    doomed = add(product, user, "doomed", root)
    add(product, user, "doomed child", doomed)
    add(product, user, "doomed grandchild", Comment.objects.get(body="doomed child"))
    other_root = add(product, user, "other")

    result = services.comment_delete(comment_id=doomed.pk, actor=actor, thread=True)

    assert result == {"removed": 3, "blanked": False}
    assert sorted(Comment.objects.values_list("body", flat=True)) == ["keep", "other", "root"]
    root.refresh_from_db()
    assert root.numchild == 1
    services.comment_delete(comment_id=root.pk, actor=actor, thread=True)
    assert list(Comment.objects.values_list("pk", flat=True)) == [other_root.pk]
    assert not Comment.objects.filter(pk=keep.pk).exists()
    assert_tree_sound()


def test_seller_and_staff_without_thread_blank_like_the_author(product, staff):
    user = UserFactory()
    root = add(product, user, "root")
    add(product, user, "reply", root)

    services.comment_delete(comment_id=root.pk, actor=product.shop.owner)

    root.refresh_from_db()
    assert root.is_deleted is True
    assert Comment.objects.count() == 2


def test_delete_permissions(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    add(product, bob, "reply", root)

    with pytest.raises(CommentForbidden):
        services.comment_delete(comment_id=root.pk, actor=bob)
    with pytest.raises(CommentThreadDeleteForbidden):
        services.comment_delete(comment_id=root.pk, actor=alice, thread=True)
    assert Comment.objects.count() == 2
    assert Comment.objects.filter(is_deleted=True).count() == 0


def test_update_rules(product):
    alice, bob = UserFactory(), UserFactory()
    root = add(product, alice, "root")
    add(product, bob, "reply", root)

    with pytest.raises(CommentForbidden):
        services.comment_update(comment_id=root.pk, actor=bob, body="hijack")
    updated = services.comment_update(comment_id=root.pk, actor=alice, body="  edited\r\n ")
    assert updated.body == "edited"

    services.comment_delete(comment_id=root.pk, actor=alice)
    with pytest.raises(CommentDeleted):
        services.comment_update(comment_id=root.pk, actor=alice, body="back")
    root.refresh_from_db()
    assert (root.body, root.is_deleted) == ("", True)


def test_comments_of_unpublished_products_are_hidden_from_users(product, staff):
    user = UserFactory()
    comment = add(product, user)
    product.status = "archived"
    product.save()

    with pytest.raises(CommentNotFound):
        services.comment_update(comment_id=comment.pk, actor=user, body="x")
    services.comment_delete(comment_id=comment.pk, actor=staff)
    assert not Comment.objects.exists()
