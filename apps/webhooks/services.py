"""Webhook endpoints and their deliveries (docs/webhooks.md).

Delivery is at least once per event and endpoint, with no order promised: the row is written
in the relay's transaction when the event is handled (`deliveries_record`), so a committed
event is never lost; a task on the `webhooks` queue, enqueued durably after commit, attempts it
(`delivery_attempt`); the beat sweep (`deliveries_due_enqueue`) queues whatever is due again,
so neither a lost task nor a killed sender loses a delivery. A repeated attempt carries the
same `webhook-id` (the event id), which receivers dedupe on.
"""

import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from apps.core.errors import field_error
from apps.core.observability import REQUEST_ID_HEADER, current_context
from apps.events import emit
from apps.events.task_outbox import tasks_enqueue
from apps.shops.models import Shop
from apps.users.models import User
from apps.webhooks import signing
from apps.webhooks.errors import (
    DeliveryInProgress,
    EndpointDisabled,
    EventNotAvailable,
    InvalidTarget,
    TooManyEndpoints,
)
from apps.webhooks.event_types import PING, SHOP_EVENT_TYPES, event_shop_id
from apps.webhooks.metrics import DELIVERY_ATTEMPTS
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.schedule import next_attempt
from apps.webhooks.targets import SendFailed, target_check, target_post

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
Reason = WebhookEndpoint.DisabledReason

WEBHOOK_DISABLED = "webhook.disabled"  # the event that tells the endpoint's owner
# A queued task's hold on its delivery; after it, the sweep queues the delivery again.
QUEUED_LEASE = timedelta(minutes=5)
# How long past the timeout an attempt in progress holds its delivery.
ATTEMPT_MARGIN = timedelta(seconds=20)
SWEEP_LIMIT = 500


# --- endpoints -----------------------------------------------------------------------------------


def _check_events(*, events: Sequence[str], shop: Shop | None) -> None:
    if shop is None:
        return
    refused = [
        field_error(
            f"/events/{index}",
            EventNotAvailable.code,
            f"{event_type} is not about one shop; only platform endpoints receive it.",
        )
        for index, event_type in enumerate(events)
        if event_type not in SHOP_EVENT_TYPES
    ]
    if refused:
        raise EventNotAvailable(refused[0]["detail"], errors=refused)


def _check_url(url: str) -> None:
    target_check(url)


def endpoint_create(
    *, actor: User, url: str, events: Sequence[str], description: str = ""
) -> WebhookEndpoint:
    """A staff caller registers a platform endpoint, a seller one for their own shop.

    Returns the endpoint with its new `secret` (shown once by the API). Raises InvalidTarget,
    EventNotAvailable (a seller asking for a platform-only event) or TooManyEndpoints."""
    shop = None if actor.is_staff else actor.shop
    _check_events(events=events, shop=shop)
    _check_url(url)
    with transaction.atomic():
        if shop is not None:
            Shop.objects.select_for_update().filter(pk=shop.pk).first()  # counts one at a time
            count = WebhookEndpoint.objects.filter(shop=shop).count()
            limit = settings.WEBHOOKS_MAX_ENDPOINTS_PER_SHOP
        else:
            count = WebhookEndpoint.objects.filter(shop=None).count()
            limit = settings.WEBHOOKS_MAX_PLATFORM_ENDPOINTS
        if count >= limit:
            raise TooManyEndpoints(f"At most {limit} webhook endpoints; delete one first.")
        return WebhookEndpoint.objects.create(
            shop=shop,
            created_by=actor,
            url=url,
            events=list(dict.fromkeys(events)),
            description=description,
            secret=signing.secret_generate(),
        )


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given. Enabling again clears the reason it was disabled and its run of
    failures; retries still scheduled go on (those that came due while it was disabled ended
    failed: retry them by hand)."""
    fields = ["updated_at"]
    if url is not None and url != endpoint.url:
        _check_url(url)
        endpoint.url = url
        fields.append("url")
    if events is not None:
        _check_events(events=events, shop=endpoint.shop)
        endpoint.events = list(dict.fromkeys(events))
        fields.append("events")
    if description is not None:
        endpoint.description = description
        fields.append("description")
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = "" if enabled else Reason.MANUAL
        endpoint.disabled_at = None if enabled else timezone.now()
        endpoint.failing_since = None
        fields += ["enabled", "disabled_reason", "disabled_at", "failing_since"]
    endpoint.save(update_fields=fields)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint and its delivery history; nothing more is sent to it."""
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret (returned once in `endpoint.secret`); the one it replaces keeps signing,
    as a second signature, for WEBHOOKS_SECRET_OVERLAP_HOURS. A second rotation within that
    time drops the oldest secret."""
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(
        hours=settings.WEBHOOKS_SECRET_OVERLAP_HOURS
    )
    endpoint.secret = signing.secret_generate()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint


def secrets_in_use(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    in_use = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        in_use.append(endpoint.previous_secret)
    return in_use


@transaction.atomic
def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.ping` delivery: one attempt, no retries (send another ping instead).
    Raises EndpointDisabled."""
    if not endpoint.enabled:
        raise EndpointDisabled("Enable the endpoint before pinging it.")
    now = timezone.now()
    event_id = uuid.uuid4()
    envelope = {
        "event_id": str(event_id),
        "type": PING,
        "version": 1,
        "occurred_at": now.isoformat(),
        "data": {"endpoint_id": str(endpoint.pk)},
    }
    token = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=PING,
        payload=envelope,
        request_id=current_context().get(REQUEST_ID_HEADER, ""),
        next_attempt_at=now,
        expires_at=now,
        lock_token=token,
        locked_until=now + QUEUED_LEASE,
    )
    _enqueue([(delivery.pk, token)])
    return delivery


def _endpoint_disable(*, endpoint_id: UUID, reason: str, now: datetime) -> bool:
    """Disable an enabled endpoint and tell its owner (an outbox event in this transaction)."""
    if not WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now
    ):
        return False
    endpoint = WebhookEndpoint.objects.select_related("shop").get(pk=endpoint_id)
    owner_id = endpoint.shop.owner_id if endpoint.shop is not None else endpoint.created_by_id
    emit(
        WEBHOOK_DISABLED,
        endpoint.pk,
        {
            "endpoint_id": str(endpoint.pk),
            "url": endpoint.url,
            "reason": reason,
            "shop_id": str(endpoint.shop_id) if endpoint.shop_id else None,
            "owner_id": str(owner_id) if owner_id else None,
        },
    )
    logger.warning("webhook endpoint %s disabled (%s)", endpoint.pk, reason)
    return True


# --- deliveries ----------------------------------------------------------------------------------


def _enqueue(claims: Sequence[tuple[UUID, UUID]]) -> None:
    from apps.webhooks.tasks import deliver

    tasks_enqueue(deliver, [{"delivery_id": str(pk), "token": str(token)} for pk, token in claims])


def endpoints_for_event(event_type: str, data: dict[str, Any]) -> list[WebhookEndpoint]:
    """Enabled endpoints subscribed to the event: every platform endpoint, and those of the
    shop the event is about. The subscription is matched here rather than in SQL (the list is
    a JSON field; the candidates are bounded by the per-shop and platform limits)."""
    shop_id = event_shop_id(event_type, data)
    scope = Q(shop=None) | Q(shop_id=shop_id) if shop_id else Q(shop=None)
    candidates = WebhookEndpoint.objects.filter(scope, enabled=True).only("id", "events")
    return [endpoint for endpoint in candidates if event_type in endpoint.events]


def deliveries_record(*, envelope: dict[str, Any]) -> int:
    """Write one delivery per subscribed endpoint in the caller's (the relay's) transaction and
    queue them after its commit. A redelivered event adds no row. Returns how many were new."""
    endpoints = endpoints_for_event(envelope["type"], envelope["data"])
    if not endpoints:
        return 0
    now = timezone.now()
    body = {key: envelope[key] for key in ("event_id", "type", "version", "occurred_at", "data")}
    expires_at = now + timedelta(hours=settings.WEBHOOKS_RETRY_WINDOW_HOURS)
    request_id = current_context().get(REQUEST_ID_HEADER, "")
    token = uuid.uuid4()
    candidates = [
        WebhookDelivery(
            endpoint_id=endpoint.pk,
            event_id=envelope["event_id"],
            event_type=envelope["type"],
            payload=body,
            request_id=request_id[:64],
            next_attempt_at=now,
            expires_at=expires_at,
            lock_token=token,
            locked_until=now + QUEUED_LEASE,
        )
        for endpoint in endpoints
    ]
    WebhookDelivery.objects.bulk_create(candidates, ignore_conflicts=True)
    # Only the rows this call inserted carry its token.
    new = list(
        WebhookDelivery.objects.filter(event_id=envelope["event_id"], lock_token=token).values_list(
            "pk", flat=True
        )
    )
    _enqueue([(pk, token) for pk in new])
    return len(new)


@transaction.atomic
def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now. A pending one keeps its retry schedule; a finished one
    (succeeded or failed) gets one attempt. Raises EndpointDisabled, or DeliveryInProgress
    while an attempt is under way or queued."""
    if not delivery.endpoint.enabled:
        raise EndpointDisabled("Enable the endpoint before retrying its deliveries.")
    now = timezone.now()
    token = uuid.uuid4()
    updated = WebhookDelivery.objects.filter(
        Q(locked_until=None) | Q(locked_until__lt=now), pk=delivery.pk
    ).update(
        expires_at=Case(When(status=Status.PENDING, then=F("expires_at")), default=Value(now)),
        status=Status.PENDING,
        next_attempt_at=now,
        lock_token=token,
        locked_until=now + QUEUED_LEASE,
        updated_at=now,
    )
    if not updated:
        raise DeliveryInProgress("This delivery is already queued or being sent.")
    _enqueue([(delivery.pk, token)])
    delivery.refresh_from_db()
    return delivery


def _claim(*, delivery_id: UUID | str, token: UUID | str | None, now: datetime) -> UUID | None:
    """Take the delivery for one attempt (committed at once): due, pending, and either free or
    held by the queued task presenting `token`. None when another sender has it or it is not
    due (a duplicate or stale task)."""
    held = Q(locked_until=None) | Q(locked_until__lt=now)
    if token is not None:
        held |= Q(lock_token=token)
    if _endpoint_busy(delivery_id=delivery_id, now=now):
        # Give the queued hold back: the sweep queues it again when an attempt ends.
        if token is not None:
            WebhookDelivery.objects.filter(pk=delivery_id, lock_token=token).update(
                lock_token=None, locked_until=None
            )
        return None
    claim = uuid.uuid4()
    timeout = timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS)
    until = now + timeout + ATTEMPT_MARGIN
    taken = WebhookDelivery.objects.filter(
        held, pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(
        lock_token=claim,
        locked_until=until,
        sending_until=until,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        updated_at=now,
    )
    return claim if taken else None


def _endpoint_busy(*, delivery_id: UUID | str, now: datetime) -> bool:
    """True when the delivery's endpoint already has its cap of attempts under way (a soft
    cap: two workers checking at once may both go)."""
    cap = settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT
    if not cap:
        return False
    endpoint_id = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    )
    if endpoint_id is None:
        return False
    in_flight = WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=Status.PENDING, sending_until__gt=now
    ).exclude(pk=delivery_id)
    return in_flight.count() >= cap


def request_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def request_headers(delivery: WebhookDelivery, *, body: bytes, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers (signed with every secret in use) and the request id."""
    timestamp = int(time.time())
    message_id = str(delivery.event_id)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            secrets_in_use(delivery.endpoint, now=now),
            message_id=message_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    if delivery.request_id:
        headers["X-Request-Id"] = delivery.request_id
    return headers


def delivery_attempt(*, delivery_id: UUID | str, token: UUID | str | None = None) -> str | None:
    """Attempt one delivery once and record the outcome. Never raises for the receiver's
    failures; returns the outcome (`succeeded`, `http_error`, `gone`, `timeout`,
    `connection_error`, `refused`, `disabled`), or None when there was nothing to attempt."""
    now = timezone.now()
    claim = _claim(delivery_id=delivery_id, token=token, now=now)
    if claim is None:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _finish(delivery, claim=claim, outcome="disabled", error="The endpoint is disabled.")
        return "disabled"
    body = request_body(delivery)
    status_code = None
    excerpt = ""
    try:
        answer = target_post(
            endpoint.url, body=body, headers=request_headers(delivery, body=body, now=now)
        )
    except InvalidTarget as exc:
        outcome, error = "refused", f"The URL was refused: {exc.detail}"
    except SendFailed as exc:
        outcome, error = exc.reason, str(exc)
    else:
        status_code, excerpt = answer.status, answer.excerpt
        if 200 <= answer.status < 300:
            outcome, error = "succeeded", ""
        elif answer.status == 410:
            outcome, error = "gone", "The receiver answered 410 Gone: the endpoint is disabled."
        else:
            outcome, error = "http_error", f"The receiver answered HTTP {answer.status}."
    _finish(
        delivery, claim=claim, outcome=outcome, error=error, status_code=status_code,
        excerpt=excerpt,
    )  # fmt: skip
    return outcome


def _finish(
    delivery: WebhookDelivery,
    *,
    claim: UUID,
    outcome: str,
    error: str,
    status_code: int | None = None,
    excerpt: str = "",
) -> None:
    """Record an attempt's outcome on the delivery (if the claim still holds) and the
    endpoint's health, in one transaction."""
    DELIVERY_ATTEMPTS.labels(outcome=outcome).inc()
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": status_code,
        "last_error": error[:1000],
        "last_response": excerpt[:1000],
        "lock_token": None,
        "locked_until": None,
        "sending_until": None,
        "updated_at": now,
    }
    endpoint_id = delivery.endpoint_id
    with transaction.atomic():
        if outcome == "succeeded":
            fields.update(status=Status.SUCCEEDED, next_attempt_at=None)
        elif outcome in ("gone", "disabled"):
            fields.update(status=Status.FAILED, next_attempt_at=None)
        else:
            failed_in_a_row = _failures_in_a_row(delivery)
            at = next_attempt(
                failed_attempts=failed_in_a_row, now=now, expires_at=delivery.expires_at
            )
            fields.update(status=Status.PENDING if at else Status.FAILED, next_attempt_at=at)
        WebhookDelivery.objects.filter(pk=delivery.pk, lock_token=claim).update(**fields)
        if outcome == "succeeded":
            WebhookEndpoint.objects.filter(pk=endpoint_id).exclude(failing_since=None).update(
                failing_since=None
            )
        elif outcome == "gone":
            _endpoint_disable(endpoint_id=endpoint_id, reason=Reason.GONE, now=now)
        elif outcome != "disabled":
            _note_failure(endpoint_id=endpoint_id, now=now)


def _failures_in_a_row(delivery: WebhookDelivery) -> int:
    """This delivery's failed attempts so far, the one just made included. A manual retry of
    a finished delivery gets one attempt (its window is closed), so the count only sets the
    pace of the automatic schedule."""
    return max(delivery.attempts, 1)


def _note_failure(*, endpoint_id: UUID, now: datetime) -> None:
    """Start the endpoint's run of failures, or disable it once the run lasted a day."""
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since=None).update(failing_since=now)
    cutoff = now - timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    if WebhookEndpoint.objects.filter(
        pk=endpoint_id, enabled=True, failing_since__lte=cutoff
    ).exists():
        _endpoint_disable(endpoint_id=endpoint_id, reason=Reason.FAILING, now=now)


def _within_endpoint_caps(candidates: list[tuple[UUID, UUID]], *, now: datetime) -> list[UUID]:
    """The candidates (oldest due first) an endpoint's cap leaves room for: its deliveries
    queued or under way count against WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT."""
    cap = settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT
    if not cap:
        return [pk for pk, _endpoint_id in candidates]
    held = dict(
        WebhookDelivery.objects.filter(
            endpoint_id__in={endpoint_id for _pk, endpoint_id in candidates},
            status=Status.PENDING,
            locked_until__gt=now,
        )
        .order_by()
        .values("endpoint_id")
        .annotate(count=Count("id"))
        .values_list("endpoint_id", "count")
    )
    chosen = []
    for pk, endpoint_id in candidates:
        if held.get(endpoint_id, 0) < cap:
            chosen.append(pk)
            held[endpoint_id] = held.get(endpoint_id, 0) + 1
    return chosen


def deliveries_due_enqueue(*, limit: int = SWEEP_LIMIT) -> int:
    """The sweep: queue every delivery that is due and not held (a failed attempt's retry, a
    task the broker lost, an attempt whose sender died). Returns how many were queued."""
    from apps.webhooks.tasks import deliver

    now = timezone.now()
    free = Q(locked_until=None) | Q(locked_until__lt=now)
    candidates = list(
        WebhookDelivery.objects.filter(free, status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "endpoint_id")[: limit * 2]
    )
    if not candidates:
        return 0
    due = _within_endpoint_caps(candidates, now=now)[:limit]
    if not due:
        return 0
    token = uuid.uuid4()
    # Conditional: a row another sweep or sender took meanwhile keeps its holder.
    WebhookDelivery.objects.filter(free, pk__in=due).update(
        lock_token=token, locked_until=now + QUEUED_LEASE
    )
    queued = list(
        WebhookDelivery.objects.filter(pk__in=due, lock_token=token).values_list("pk", flat=True)
    )
    sent = 0
    for pk in queued:
        try:
            deliver.apply_async(kwargs={"delivery_id": str(pk), "token": str(token)}, retry=False)
        except Exception as exc:  # the broker is down: the lease lapses, a later sweep retries
            logger.warning("could not queue webhook deliveries (%s); the sweep retries", exc)
            break
        sent += 1
    return sent
