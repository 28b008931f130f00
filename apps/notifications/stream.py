"""Server-Sent Events of a user's new notifications (served by the ASGI app under uvicorn).

Browsers' EventSource cannot send headers, so the stream authenticates with a one-time ticket
obtained with the normal Bearer token. Redis pub/sub feeds live notifications; `Last-Event-ID`
replays what was missed from the database.
"""

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from apps.core.exceptions import problem, problem_json_response
from apps.notifications.models import Notification
from apps.notifications.realtime import channel_for, redis_enabled
from apps.notifications.services import notification_to_payload

TICKET_TTL_SECONDS = 60
HEARTBEAT_SECONDS = 15
REPLAY_LIMIT = 100


def _ticket_key(ticket: str) -> str:
    return f"notifications:stream-ticket:{ticket}"


def stream_ticket_issue(*, user: Any) -> str:
    ticket = secrets.token_urlsafe(32)
    cache.set(_ticket_key(ticket), str(user.pk), TICKET_TTL_SECONDS)
    return ticket


def stream_ticket_consume(ticket: str) -> str | None:
    """The user id of a valid ticket, once: of two concurrent uses only one wins the delete."""
    if not ticket or len(ticket) > 100:
        return None
    user_id = cache.get(_ticket_key(ticket))
    if user_id is None or not cache.delete(_ticket_key(ticket)):
        return None
    return user_id


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


async def event_stream(user_id: str, last_event_id: str | None) -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    # Subscribe before the replay query so nothing created in between is lost.
    await pubsub.subscribe(channel_for(user_id))
    sent: set[str] = set()
    try:
        yield "retry: 3000\n: connected\n\n"
        if last_event_id:
            for payload in await sync_to_async(missed_since)(user_id, last_event_id):
                sent.add(payload["id"])
                yield sse_frame(payload)
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
            )
            if message is None:
                yield ": heartbeat\n\n"
                continue
            payload = json.loads(message["data"])
            if payload["id"] not in sent:
                yield sse_frame(payload)
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()


async def notification_stream(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
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
        return problem_json_response(
            problem(
                status=503,
                code="notification.stream_unavailable",
                title="Stream unavailable",
                detail="Real-time streams need Redis.",
            )
        )
    user_id = await sync_to_async(stream_ticket_consume)(request.GET.get("ticket", ""))
    if user_id is None:
        return problem_json_response(
            problem(
                status=401,
                code="notification.invalid_ticket",
                title="Invalid or expired stream ticket",
                detail="Get a new ticket from POST /api/v1/notifications/stream-ticket.",
            )
        )
    response = StreamingHttpResponse(
        event_stream(user_id, request.headers.get("Last-Event-ID")),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response
