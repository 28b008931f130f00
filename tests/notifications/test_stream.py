"""The SSE stream under a real ASGI server (uvicorn) fed by real Redis pub/sub."""

import socket
import threading
import time

import pytest
import requests
import uvicorn
from django.core.cache import cache
from rest_framework_simplejwt.state import token_backend

from apps.notifications.models import Notification
from apps.notifications.services import notifications_deliver
from apps.notifications.stream import _ticket_key, stream_ticket_issue
from apps.users.services.sessions import session_revoke, session_revoke_all, session_tokens_issue
from tests.services import need_redis
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_server():
    need_redis()
    from config.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def read_until_data(response) -> tuple[str | None, str]:
    event_id = None
    for raw in response.iter_lines(decode_unicode=True):
        if raw.startswith("id: "):
            event_id = raw[4:]
        if raw.startswith("data: "):
            return event_id, raw[6:]
    raise AssertionError("stream ended without data")


def deliver(user, title):
    return notifications_deliver(
        event_id=__import__("uuid").uuid4(),
        type="order.placed",
        title=title,
        body="b",
        data={},
        recipient_ids=[user.pk],
    )[0]


def test_stream_pushes_a_notification_created_after_connecting(asgi_server):
    user = UserFactory()
    other = UserFactory()
    ticket = stream_ticket_issue(user=user)

    with requests.get(
        f"{asgi_server}/api/v1/notifications/stream",
        params={"ticket": ticket},
        stream=True,
        timeout=(5, 10),
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 3000"
        assert next(lines) == ": connected"
        deliver(other, "not for you")
        mine = deliver(user, "for you")
        event_id, data = read_until_data(response)

    assert event_id == str(mine.pk)
    assert '"title": "for you"' in data
    assert Notification.objects.count() == 2


def test_stream_resumes_from_last_event_id(asgi_server):
    user = UserFactory()
    first = deliver(user, "first")
    second = deliver(user, "second")
    Notification.objects.filter(pk=second.pk).update(
        created_at=first.created_at.replace(microsecond=0).replace(year=first.created_at.year + 1)
    )
    ticket = stream_ticket_issue(user=user)
    with requests.get(
        f"{asgi_server}/api/v1/notifications/stream",
        params={"ticket": ticket},
        headers={"Last-Event-ID": str(first.pk)},
        stream=True,
        timeout=(5, 10),
    ) as response:
        event_id, data = read_until_data(response)
    assert event_id == str(second.pk)
    assert '"title": "second"' in data


def test_reused_ticket_is_rejected(asgi_server):
    user = UserFactory()
    ticket = stream_ticket_issue(user=user)
    with requests.get(
        f"{asgi_server}/api/v1/notifications/stream",
        params={"ticket": ticket},
        stream=True,
        timeout=(5, 10),
    ) as response:
        assert response.status_code == 200
    again = requests.get(
        f"{asgi_server}/api/v1/notifications/stream", params={"ticket": ticket}, timeout=5
    )
    assert again.status_code == 401
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["code"] == "notification.invalid_ticket"


def test_expired_or_unknown_ticket_is_rejected(asgi_server):
    user = UserFactory()
    ticket = stream_ticket_issue(user=user)
    cache.touch(_ticket_key(ticket), 1)
    time.sleep(1.2)
    expired = requests.get(
        f"{asgi_server}/api/v1/notifications/stream", params={"ticket": ticket}, timeout=5
    )
    assert expired.status_code == 401
    unknown = requests.get(
        f"{asgi_server}/api/v1/notifications/stream", params={"ticket": "nope"}, timeout=5
    )
    assert unknown.status_code == 401


def open_stream(server: str, ticket: str):
    response = requests.get(
        f"{server}/api/v1/notifications/stream",
        params={"ticket": ticket},
        stream=True,
        timeout=(5, 10),
    )
    assert response.status_code == 200
    lines = response.iter_lines(decode_unicode=True)
    assert next(lines) == "retry: 3000"
    assert next(lines) == ": connected"
    return response, lines


def ends_revoked(lines) -> bool:
    """The stream says `revoked` and ends well before a heartbeat would have re-checked (15 s):
    the revocation itself reached it. (A heartbeat comment may come first: the stream sends one
    when its subscription is confirmed.)"""
    started = time.monotonic()
    events = [line for line in lines if line and not line.startswith(":")]
    assert time.monotonic() - started < 10
    assert events == ["event: revoked", 'data: {"detail": "The session ended."}'], events
    return True


def session_stream(server: str, user):
    tokens = session_tokens_issue(user=user)
    claims = token_backend.decode(tokens["access"])
    response, lines = open_stream(server, stream_ticket_issue(user=user, token=claims))
    return tokens, response, lines


def test_logout_all_ends_the_open_streams_at_once(asgi_server):
    user = UserFactory()
    _, first, first_lines = session_stream(asgi_server, user)
    _, second, second_lines = session_stream(asgi_server, user)

    session_revoke_all(user=user)

    with first, second:
        assert ends_revoked(first_lines)
        assert ends_revoked(second_lines)


def test_logout_ends_its_own_sessions_stream_only(asgi_server):
    user = UserFactory()
    ended, first, first_lines = session_stream(asgi_server, user)
    _, second, _ = session_stream(asgi_server, user)

    session_revoke(user=user, raw_refresh=ended["refresh"])

    with first:
        assert ends_revoked(first_lines)
    with second:
        # the other session's stream goes on and gets what is delivered next
        mine = deliver(user, "still here")
        event_id, _ = read_until_data(second)
        assert event_id == str(mine.pk)


def test_deactivation_ends_the_open_streams_at_once(asgi_server):
    user = UserFactory()
    _, response, lines = session_stream(asgi_server, user)

    user.is_active = False
    user.save(update_fields=["is_active"])

    with response:
        assert ends_revoked(lines)
