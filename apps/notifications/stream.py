"""Server-Sent Events of a user's new notifications, served only by the ASGI app under uvicorn
(`config.asgi`; nginx routes the path there). A WSGI server answers the path with 503
`notification.stream_unavailable` instead: there each open stream would hold a worker thread.

Browsers' EventSource cannot send headers, so the stream authenticates with a one-time ticket
obtained with the normal Bearer token; the ticket remembers that token's session. Redis pub/sub
feeds live notifications; `Last-Event-ID` replays what was missed from the database.

- At most `NOTIFICATIONS_STREAMS_PER_USER` streams per user are open at once (one more is 429
  `notification.too_many_streams`): each open stream holds a slot in a Redis sorted set per user,
  scored by when it lapses; the stream renews it at every heartbeat and gives it back when it
  ends, and a slot of a process that died lapses by itself.
- The stream ends when its session does: logout of that session, logout-all, a password change
  or reset, refresh-token reuse, or the account's deactivation. The users app signals those
  (apps.users.signals), which reaches the stream at once as a control message on its channel;
  each heartbeat (`NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS`) re-checks as well.
- A client that goes away cancels the stream (Django's ASGI handler listens for the disconnect):
  its subscription, Redis connections and slot are released; nothing waits on it.
"""

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from apps.core.authentication import token_session
from apps.core.exceptions import problem, problem_json_response
from apps.notifications.errors import StreamUnavailable
from apps.notifications.metrics import STREAMS_CLOSED, STREAMS_OPEN, STREAMS_REFUSED
from apps.notifications.models import Notification
from apps.notifications.realtime import CONTROL, channel_for, redis_enabled, slots_key
from apps.notifications.services import notification_to_payload

TICKET_TTL_SECONDS = 60
REPLAY_LIMIT = 100

# Drop lapsed slots; take one if fewer than the limit are held. KEYS[1] the user's set; ARGV:
# now, the new slot's lapse time, the limit, the stream id, the set's lifetime in seconds.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class StreamTicket:
    """Who a ticket is for, and the session of the token that asked for it."""

    user_id: str
    session_id: str | None = None


def _ticket_key(ticket: str) -> str:
    return f"notifications:stream-ticket:{ticket}"


def stream_ticket_issue(*, user: Any, token: Any = None) -> str:
    """A one-time ticket for `user`, bound to the session of `token` (the request's access token;
    None: no session, as for a test or a tool). Raises StreamUnavailable when the cache, where
    tickets live (as do the live streams' messages), cannot be reached."""
    ticket = secrets.token_urlsafe(32)
    data = StreamTicket(user_id=str(user.pk), session_id=token_session(token))
    # add() says whether it stored the new key; an unreachable cache stores nothing.
    if not cache.add(_ticket_key(ticket), asdict(data), TICKET_TTL_SECONDS):
        raise StreamUnavailable("Real-time streams are unavailable right now; retry shortly.")
    return ticket


def stream_ticket_consume(ticket: str) -> StreamTicket | None:
    """What a valid ticket holds, once: of two concurrent uses only one wins the delete."""
    if not ticket or len(ticket) > 100:
        return None
    data = cache.get(_ticket_key(ticket))
    if not isinstance(data, dict) or not cache.delete(_ticket_key(ticket)):
        return None
    return StreamTicket(**data)


def stream_session_valid(ticket: StreamTicket) -> bool:
    """Whether the session the stream was opened for still stands: the user is active and the
    session not ended (logout, logout-all, a password change or reset, token reuse)."""
    from apps.users.selectors import session_is_live

    return session_is_live(user_id=ticket.user_id, session_id=ticket.session_id)


def missed_since(user_id: str, last_event_id: str) -> list[dict[str, Any]]:
    """The in-app notifications created after the one the client last saw (its SSE
    `Last-Event-ID`); nothing when that id is not one of the user's notifications (or not an id
    at all: the header comes from the client)."""
    try:
        last_id = uuid.UUID(last_event_id)
    except ValueError:
        return []
    # The ignores: the plugin types a foreign key's `_id` lookup as the target's pk (UUID), but
    # Django converts a UUID string for it as for the pk itself (the ticket holds a str).
    last = Notification.objects.filter(recipient_id=user_id, pk=last_id).first()  # type: ignore[misc]
    if last is None:
        return []
    rows = Notification.objects.filter(
        recipient_id=user_id,  # type: ignore[misc]
        in_app=True,
        created_at__gt=last.created_at,
    ).order_by("created_at")[:REPLAY_LIMIT]
    return [notification_to_payload(n) for n in rows]


def sse_frame(payload: dict[str, Any]) -> str:
    return f"id: {payload['id']}\nevent: notification\ndata: {json.dumps(payload)}\n\n"


def _heartbeat() -> float:
    return float(settings.NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS)


def _slot_lapse() -> float:
    """A slot lapses two heartbeats (and a margin) after its last renewal."""
    return 2 * _heartbeat() + 5


class _Slots:
    """The user's open-stream slots (see the module's docstring)."""

    def __init__(self, client: Any, user_id: str, stream_id: str) -> None:
        self.client, self.key, self.stream_id = client, slots_key(user_id), stream_id

    async def take(self) -> bool:
        now = time.time()
        taken = await self.client.eval(
            _TAKE_SLOT,
            1,
            self.key,
            now,
            now + _slot_lapse(),
            settings.NOTIFICATIONS_STREAMS_PER_USER,
            self.stream_id,
            int(_slot_lapse()) + 1,
        )
        return bool(taken)

    async def renew(self) -> None:
        await self.client.zadd(self.key, {self.stream_id: time.time() + _slot_lapse()})
        await self.client.expire(self.key, int(_slot_lapse()) + 1)

    async def give_back(self) -> None:
        await self.client.zrem(self.key, self.stream_id)


async def event_stream(
    client: Any, slots: _Slots, ticket: StreamTicket, last_event_id: str | None
) -> AsyncIterator[str]:
    pubsub = client.pubsub()
    STREAMS_OPEN.inc()
    reason = "client_gone"  # unless the loop ends otherwise: a cancellation means the client left
    try:
        # Subscribe before the replay query so nothing created in between is lost.
        await pubsub.subscribe(channel_for(ticket.user_id))
        yield "retry: 3000\n: connected\n\n"
        sent: set[str] = set()
        if last_event_id:
            for missed in await sync_to_async(missed_since)(ticket.user_id, last_event_id):
                sent.add(missed["id"])
                yield sse_frame(missed)
        checked = time.monotonic()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_heartbeat())
            payload: dict[str, Any] | None = (
                json.loads(message["data"]) if message is not None else None
            )
            due = message is None or time.monotonic() - checked >= _heartbeat()
            if due or (payload is not None and CONTROL in payload):
                if not await sync_to_async(stream_session_valid)(ticket):
                    reason = "revoked"
                    yield 'event: revoked\ndata: {"detail": "The session ended."}\n\n'
                    return
                if due:
                    checked = time.monotonic()
                    await slots.renew()
                    yield ": heartbeat\n\n"
            if payload is not None and CONTROL not in payload and payload["id"] not in sent:
                yield sse_frame(payload)
    finally:
        STREAMS_OPEN.dec()
        STREAMS_CLOSED.labels(reason).inc()
        await slots.give_back()
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()


def _unavailable(detail: str) -> HttpResponse:
    return problem_json_response(
        problem(
            status=503,
            code="notification.stream_unavailable",
            title="Stream unavailable",
            detail=detail,
        )
    )


async def notification_stream(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if not isinstance(request, ASGIRequest):
        return _unavailable(
            "The stream is served by the stream service (uvicorn config.asgi:application), "
            "behind the API's own address in the production stack (make stack); this WSGI "
            "server does not serve it."
        )
    if request.method != "GET":
        return problem_json_response(
            problem(
                status=405,
                code="request.method_not_allowed",
                title="Method not allowed",
                detail="Use GET.",
            )
        )
    if not redis_enabled():
        return _unavailable("Real-time streams need Redis.")
    ticket = await sync_to_async(stream_ticket_consume)(request.GET.get("ticket", ""))
    if ticket is None:
        return problem_json_response(
            problem(
                status=401,
                code="notification.invalid_ticket",
                title="Invalid or expired stream ticket",
                detail="Get a new ticket from POST /api/v1/notifications/stream-ticket.",
            )
        )
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL)
    slots = _Slots(client, ticket.user_id, uuid.uuid4().hex)
    if not await slots.take():
        await client.aclose()
        STREAMS_REFUSED.inc()
        limit = settings.NOTIFICATIONS_STREAMS_PER_USER
        refusal = problem_json_response(
            problem(
                status=429,
                code="notification.too_many_streams",
                title="Too many open streams",
                detail=f"At most {limit} streams per user are open at once; close one first.",
                limit=limit,
            )
        )
        refusal["Retry-After"] = str(int(_heartbeat()))
        return refusal
    response = StreamingHttpResponse(
        event_stream(client, slots, ticket, request.headers.get("Last-Event-ID")),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response
