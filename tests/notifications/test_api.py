import uuid

import pytest
from django.utils import timezone

from apps.notifications.models import (
    Channel,
    Notification,
    NotificationPreference,
    NotificationType,
)
from tests.conftest import auth_client
from tests.notifications.factories import NotificationFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_feed_lists_own_notifications_newest_first(user, user_client):
    older = NotificationFactory(recipient=user, title="older")
    newer = NotificationFactory(recipient=user, title="newer")
    Notification.objects.filter(pk=older.pk).update(created_at=timezone.now().replace(year=2025))
    NotificationFactory()  # someone else's
    NotificationFactory(recipient=user, in_app=False)  # in-app turned off: email only

    response = user_client.get("/api/v1/notifications")

    assert response.status_code == 200
    body = response.json()
    assert [n["id"] for n in body["results"]] == [str(newer.pk), str(older.pk)]
    assert set(body) == {"next", "previous", "results"}
    assert body["results"][0]["read_at"] is None


def test_feed_filters_unread_and_type(user, user_client):
    read = NotificationFactory(recipient=user, read_at=timezone.now())
    unread = NotificationFactory(recipient=user, type="review.created")
    response = user_client.get("/api/v1/notifications?unread=true")
    assert [n["id"] for n in response.json()["results"]] == [str(unread.pk)]
    response = user_client.get("/api/v1/notifications?type=order.placed")
    assert [n["id"] for n in response.json()["results"]] == [str(read.pk)]
    response = user_client.get("/api/v1/notifications?type=nope")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "/type"


def test_feed_runs_constant_queries(user, user_client, django_assert_num_queries):
    NotificationFactory(recipient=user)
    # caller + page
    with django_assert_num_queries(2):
        assert len(user_client.get("/api/v1/notifications").json()["results"]) == 1
    for n, type_ in enumerate(NotificationType.values * 3):
        NotificationFactory(
            recipient=user,
            type=type_,
            data={"order_id": str(uuid.uuid4()), "n": n},
            read_at=timezone.now() if n % 2 else None,
        )
    with django_assert_num_queries(2):
        response = user_client.get("/api/v1/notifications")
    assert len(response.json()["results"]) == 20
    assert len({n["type"] for n in response.json()["results"]}) == len(NotificationType.values)


def test_unread_count_is_cached_and_invalidated(user, user_client):
    first = NotificationFactory(recipient=user)
    NotificationFactory(recipient=user)
    assert user_client.get("/api/v1/notifications/unread-count").json() == {"count": 2}

    response = user_client.post(f"/api/v1/notifications/{first.pk}/read")

    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert user_client.get("/api/v1/notifications/unread-count").json() == {"count": 1}
    assert user_client.post("/api/v1/notifications/read-all").json() == {"updated": 1}
    assert user_client.get("/api/v1/notifications/unread-count").json() == {"count": 0}
    assert not Notification.objects.filter(recipient=user, read_at=None).exists()


def test_another_users_notification_is_404_and_untouched(user_client):
    theirs = NotificationFactory()
    response = user_client.post(f"/api/v1/notifications/{theirs.pk}/read")
    assert response.status_code == 404
    assert response.json()["code"] == "notification.not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None
    response = user_client.post(f"/api/v1/notifications/{uuid.uuid4()}/read")
    assert response.status_code == 404


def test_read_all_touches_only_own(user_client):
    theirs = NotificationFactory()
    user_client.post("/api/v1/notifications/read-all")
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/notifications"),
        ("get", "/api/v1/notifications/unread-count"),
        ("post", "/api/v1/notifications/read-all"),
        ("post", f"/api/v1/notifications/{uuid.uuid4()}/read"),
        ("get", "/api/v1/notifications/preferences"),
        ("patch", "/api/v1/notifications/preferences"),
        ("post", "/api/v1/notifications/stream-ticket"),
    ],
)
def test_anonymous_is_401(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_preferences_default_and_update(user, user_client):
    prefs = user_client.get("/api/v1/notifications/preferences").json()["preferences"]
    as_map = {(p["type"], p["channel"]): p["enabled"] for p in prefs}
    assert as_map[("order.placed", "email")] is True
    assert as_map[("shop.new_product", "email")] is False  # promotional email is opt-in
    assert as_map[("shop.new_product", "in_app")] is True

    response = user_client.patch(
        "/api/v1/notifications/preferences",
        {"preferences": [{"type": "order.placed", "channel": "email", "enabled": False}]},
        format="json",
    )

    assert response.status_code == 200
    updated = {(p["type"], p["channel"]): p["enabled"] for p in response.json()["preferences"]}
    assert updated[("order.placed", "email")] is False
    assert NotificationPreference.objects.get(user=user).enabled is False


def test_preferences_query_count_does_not_grow_with_explicit_choices(
    user, user_client, django_assert_num_queries
):
    url = "/api/v1/notifications/preferences"
    # caller + their explicit choices
    with django_assert_num_queries(2):
        defaults = user_client.get(url).json()["preferences"]
    for type_ in NotificationType.values:
        for channel in Channel.values:
            NotificationPreference.objects.create(
                user=user, type=type_, channel=channel, enabled=False
            )
    with django_assert_num_queries(2):
        chosen = user_client.get(url).json()["preferences"]
    assert len(chosen) == len(defaults) == len(NotificationType.values) * len(Channel.values)
    assert not any(p["enabled"] for p in chosen)


def test_preferences_reject_unknown_type_with_pointer(user, user_client):
    response = user_client.patch(
        "/api/v1/notifications/preferences",
        {"preferences": [{"type": "bogus", "channel": "email", "enabled": False}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/preferences/0/type"
    assert not NotificationPreference.objects.filter(user=user).exists()


ALL_PAIRS = [(t, c) for t in NotificationType.values for c in Channel.values]


def test_preferences_patch_is_capped_at_the_number_of_pairs(user, user_client):
    """Every pair once is the longest meaningful list; one more is refused before any work."""
    too_many = [{"type": t, "channel": c, "enabled": False} for t, c in ALL_PAIRS]
    too_many.append({"type": "order.placed", "channel": "email", "enabled": True})

    response = user_client.patch(
        "/api/v1/notifications/preferences", {"preferences": too_many}, format="json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "pointer": "/preferences",
            "code": "max_length",
            "detail": f"Ensure this field has no more than {len(ALL_PAIRS)} elements.",
        }
    ]
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_preferences_patch_refuses_a_repeated_pair_at_each_repeat(user, user_client):
    NotificationPreference.objects.create(
        user=user, type="order.placed", channel="email", enabled=True
    )
    changes = [
        {"type": "order.placed", "channel": "email", "enabled": False},
        {"type": "order.placed", "channel": "in_app", "enabled": False},
        {"type": "order.placed", "channel": "email", "enabled": True},
        {"type": "order.placed", "channel": "in_app", "enabled": True},
    ]

    response = user_client.patch(
        "/api/v1/notifications/preferences", {"preferences": changes}, format="json"
    )

    assert response.status_code == 400
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/preferences/2", "duplicate"),
        ("/preferences/3", "duplicate"),
    ]
    assert list(
        NotificationPreference.objects.filter(user=user).values_list("channel", "enabled")
    ) == [("email", True)]


def test_preferences_patch_of_every_pair_is_one_write_statement(
    user, user_client, django_assert_num_queries
):
    """The caller, one upsert, the read-back: the same three queries for 1 or all pairs, whether
    the rows exist or not."""
    NotificationPreference.objects.create(
        user=user, type="order.placed", channel="email", enabled=True
    )
    changes = [{"type": t, "channel": c, "enabled": False} for t, c in ALL_PAIRS]

    with django_assert_num_queries(3):
        response = user_client.patch(
            "/api/v1/notifications/preferences", {"preferences": changes}, format="json"
        )

    assert response.status_code == 200
    assert not any(p["enabled"] for p in response.json()["preferences"])
    assert NotificationPreference.objects.filter(user=user).count() == len(ALL_PAIRS)
    assert not NotificationPreference.objects.filter(user=user, enabled=True).exists()


def test_stream_ticket_is_issued(user_client):
    response = user_client.post("/api/v1/notifications/stream-ticket")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 60
    assert body["url"] == f"/api/v1/notifications/stream?ticket={body['ticket']}"
    assert len(body["ticket"]) >= 40


def test_users_see_only_their_own_feed():
    alice, bob = UserFactory(), UserFactory()
    NotificationFactory(recipient=alice, title="for alice")
    response = auth_client(bob).get("/api/v1/notifications")
    assert response.json()["results"] == []


def test_stream_replay_ignores_a_last_event_id_that_is_not_an_id():
    """Last-Event-ID comes from the client: garbage replays nothing (it used to raise)."""
    from apps.notifications.stream import missed_since
    from tests.notifications.factories import NotificationFactory

    seen = NotificationFactory()
    later = NotificationFactory(recipient=seen.recipient)
    recipient = str(seen.recipient_id)

    assert missed_since(recipient, "not-a-uuid") == []
    assert missed_since(recipient, "") == []
    assert [n["id"] for n in missed_since(recipient, str(seen.pk))] == [str(later.pk)]


def test_the_wsgi_app_does_not_serve_the_stream(user_client):
    """The test client is WSGI, as gunicorn and runserver are: an open stream there would hold a
    worker thread, so the path points to the stream service instead (the ticket is not used)."""
    ticket = user_client.post("/api/v1/notifications/stream-ticket").json()["ticket"]
    response = user_client.get(f"/api/v1/notifications/stream?ticket={ticket}")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "notification.stream_unavailable"
    assert "uvicorn config.asgi:application" in response.json()["detail"]
    from apps.notifications.stream import stream_ticket_consume

    assert stream_ticket_consume(ticket) is not None
