"""`Idempotency-Key` on POST /api/v1/: a retry returns the first response instead of acting twice.

The record lives in the database (`IdempotencyRecord`), one row per caller and key, as Stripe
keeps it. The middleware opens the request's transaction, inserts the row first and runs the
view inside the same transaction, so the stored response commits together with the work:

- a concurrent duplicate's INSERT waits on the row's unique index until the first request ends:
  it then replays the committed response (or, if the first rolled back, runs itself);
- a process killed mid-request leaves nothing: its transaction, claim included, rolls back, so
  the client's retry runs at once;
- the same key with another method, path or body is 422 `idempotency.key_reused`.

What is stored: 2xx and the 4xx a view answers after acting on the request (409, 422, ...). Not
stored, so the client may fix the request and retry with the same key (Stripe's rule): a request
refused before it ran (400 malformed or invalid, 401, 403, 404, 405, 413, 415, 429), and a 5xx,
whose transaction is rolled back whole. A view whose body holds a secret meant to be shown once
(a new API key) marks the response with `redact_when_stored(response, "key")`: the record keeps
those fields as null, so the secret never reaches the table and a replay has them null.

Who the caller is: the user of a Bearer token that passes authentication now (checked here as
DRF will check it, and remembered for DRF); else a guest's cart token (`X-Cart-Token`); else, for
a guest without a cart, the key alone, with the request's fingerprint deciding between a replay
and 422. Never the client's address: two guests behind one address get their own results. (A
guest's replay goes to whoever sends the same key and the same request: keys are random.)
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import orjson
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from apps.core.authentication import BearerJWTAuthentication
from apps.core.exceptions import problem, problem_json_response
from apps.core.models import IdempotencyRecord

logger = logging.getLogger("apps.core.idempotency")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Response headers worth replaying besides Content-Type: where the new resource is, and the guest
# cart token a first cart response hands out.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "X-Cart-Token")
# Refused before the view acted: the client may correct the request and retry with the same key.
NOT_STORED_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415, 429})
# Where a response names the top-level fields of its JSON body that the record must not keep.
_REDACTED_ATTR = "idempotency_redacted_fields"

ResponseT = TypeVar("ResponseT", bound=HttpResponse)


def redact_when_stored(response: ResponseT, *fields: str) -> ResponseT:
    """Mark a response whose JSON object body holds secrets shown only once: the record kept for
    `Idempotency-Key` replays has the top-level `fields` set to null (a replay answers the same
    status and body with them null), so the secret is never stored. The caller gets `response`
    back as it is."""
    setattr(response, _REDACTED_ATTR, fields)
    return response


def _stored_content(response: HttpResponse) -> bytes | None:
    """The body to keep for replays: the response's, with the fields named by
    `redact_when_stored` nulled; None (keep nothing) when those cannot be found in a JSON
    object, rather than keep a secret."""
    fields: tuple[str, ...] = getattr(response, _REDACTED_ATTR, ())
    if not fields:
        return response.content
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        logger.warning("a response to redact has no JSON object body; it is not stored")
        return None
    for name in fields:
        if name in body:
            body[name] = None
    return orjson.dumps(body)


def caller_identity(request: HttpRequest) -> str | None:
    """Who is calling: `user:<id>` from a Bearer token that passes authentication now, else
    `cart:<token>` for a guest with a cart token, else `guest`. None when a Bearer token is
    present but refused (invalid, expired, revoked, user unknown or inactive): DRF will answer
    401 on its own.

    The Bearer check reads the user row (one SELECT), which DRF's authentication then reuses."""
    try:
        authenticated = BearerJWTAuthentication().authenticate(request)
    except AuthenticationFailed:  # simplejwt's InvalidToken and AuthenticationFailed too
        return None
    if authenticated is not None:
        return f"user:{authenticated[0].pk}"
    cart_token = request.headers.get("X-Cart-Token", "").strip()
    return f"cart:{cart_token}" if cart_token else "guest"


def _canonical(request: HttpRequest) -> bytes:
    """The body as compared: a JSON body in one canonical spelling (keys sorted, no spaces), so
    a retry that serialises the same object with its keys in another order or other spacing is
    the same request; any other body (or JSON that does not parse) byte for byte."""
    body = request.body
    if request.content_type != "application/json" or not body:
        return body
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, TypeError):  # TypeError: integers beyond 64 bits
        return body


def body_digest(request: HttpRequest) -> str:
    """SHA-256 of method, path (with query string) and body (a JSON body canonical: `_canonical`).

    A body larger than Django's in-memory limit (an upload) is not read here, so that the view
    can stream it: it is told apart by its content type and length instead."""
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or length <= limit:
        digest.update(_canonical(request))
    else:
        digest.update(f"{request.content_type} {length}".encode())
    return digest.hexdigest()


def _problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    return problem_json_response(problem(status=status, code=code, title=title, detail=detail))


def _key_reused() -> HttpResponse:
    return _problem(
        422,
        "idempotency.key_reused",
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request (method, path or body).",
    )


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status)
    for name, value in record.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_claim(scope: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """The record of `scope` and whether this request just claimed it (inserted it in its open
    transaction). Waits while another request holds an uncommitted claim of the same scope.

    A record older than `IDEMPOTENCY_TTL` no longer counts: it is deleted and claimed anew."""
    while True:
        mine = IdempotencyRecord(scope=scope, fingerprint=fingerprint)
        # ON CONFLICT DO NOTHING: on a concurrent claim, the database waits for its transaction.
        IdempotencyRecord.objects.bulk_create([mine], ignore_conflicts=True)
        record = IdempotencyRecord.objects.get(scope=scope)
        if record.pk == mine.pk:
            return record, True
        expired = record.created_at < timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL)
        if not expired:
            return record, False
        IdempotencyRecord.objects.filter(pk=record.pk).delete()


def _store(record: IdempotencyRecord, response: HttpResponse) -> None:
    """Keep the response for replays, or drop the claim when the response must not be kept."""
    content = None
    if (
        200 <= response.status_code < 500
        and response.status_code not in NOT_STORED_STATUSES
        and not response.streaming
    ):
        content = _stored_content(response)
    if content is None:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=response.status_code,
        body=content,
        headers={h: response[h] for h in REPLAYED_HEADERS if h in response},
    )


class IdempotencyMiddleware:
    """Applies to POST requests under /api/v1/ that carry an `Idempotency-Key` header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.path.startswith("/api/v1/"):
            return self.get_response(request)
        key = request.headers.get(HEADER)
        if key is None:
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _problem(
                400,
                "idempotency.key_invalid",
                "Invalid idempotency key",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            )
        caller = caller_identity(request)
        if caller is None:
            return self.get_response(request)
        fingerprint = body_digest(request)
        scope = hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()
        return self._handle(request, scope, fingerprint)

    def _handle(self, request: HttpRequest, scope: str, fingerprint: str) -> HttpResponse:
        with transaction.atomic():
            record, claimed = idempotency_claim(scope, fingerprint)
            if not claimed:
                return _replay(record) if record.fingerprint == fingerprint else _key_reused()
            response = self.get_response(request)
            if response.status_code >= 500:
                # Whatever the view did goes with its claim: the client retries with the key.
                transaction.set_rollback(True)
            else:
                _store(record, response)
        return response


def idempotency_records_prune() -> int:
    """Delete the records older than `IDEMPOTENCY_TTL` (a daily beat task); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
