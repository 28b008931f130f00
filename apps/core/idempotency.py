"""`Idempotency-Key` on POST /api/v1/: a retry returns the first response instead of acting twice.

A record is kept in the shared cache (Redis) per caller and key for `IDEMPOTENCY_TTL` seconds with
a SHA-256 of method, path and body. The first request takes an in-progress lock with `cache.add`
(atomic SET NX), so of two concurrent first requests only one reaches the view; the other polls
until the first has stored its response and then replays it.

Stored: 2xx and 4xx responses, except 401 and 429, which happen before the view acts and must
stay retryable. Not stored: 5xx (a crash can be retried with the same key) and streaming bodies.
A view whose body holds a secret meant to be shown once (a new API key) marks the response with
`redact_when_stored(response, "key")`: the record keeps those fields as null, so the secret never
reaches the cache and a replay answers the same status and body with them null.

A Bearer caller is authenticated here as DRF would (`BearerJWTAuthentication`: signature,
expiry, user exists and is active, token not revoked), before anything is replayed or waited
for: a stored response (say, a new API key) must only go to a caller that could make the request
now. The outcome is remembered on the request, so DRF does not read the user again.
"""

import hashlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import BaseThrottle

from apps.core.authentication import BearerJWTAuthentication, forget_bearer_authentication
from apps.core.exceptions import problem, problem_json_response

logger = logging.getLogger("apps.core.idempotency")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Response headers worth replaying besides Content-Type: where the new resource is, and the guest
# cart token a first cart response hands out.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "X-Cart-Token")
NOT_STORED_STATUSES = frozenset({401, 429})
_CHUNK = 64 * 1024
# Where a response names the top-level fields of its JSON body that the record must not keep.
_REDACTED_ATTR = "idempotency_redacted_fields"

ResponseT = TypeVar("ResponseT", bound=HttpResponse)


def redact_when_stored(response: ResponseT, *fields: str) -> ResponseT:
    """Mark a response whose JSON object body holds secrets shown only once: the record kept for
    `Idempotency-Key` replays has the top-level `fields` set to null (a replay answers the same
    status and body with them null), so the secret is never written to the cache. The caller
    gets `response` back as it is."""
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


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


def caller_identity(request: HttpRequest) -> str | None:
    """Who is calling: `user:<id>` from a Bearer token that passes authentication now, else the
    guest cart token, else the client IP. None when a Bearer token is present but refused
    (invalid, expired, revoked, user unknown or inactive): DRF will answer 401 on its own.

    The Bearer check reads the user row (one SELECT), which DRF's authentication then reuses."""
    try:
        authenticated = BearerJWTAuthentication().authenticate(request)
    except AuthenticationFailed:  # simplejwt's InvalidToken and AuthenticationFailed too
        return None
    if authenticated is not None:
        return f"user:{authenticated[0].pk}"
    cart_token = request.headers.get("X-Cart-Token", "").strip()
    if cart_token:
        return f"cart:{cart_token}"
    # get_ident reads only request.META, which a Django request has; the stubs want DRF's.
    return f"ip:{BaseThrottle().get_ident(request)}"  # type: ignore[arg-type]


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

    A body larger than Django's in-memory limit (an upload) is hashed while it is copied to a
    spooled temporary file that then replaces the input stream, so the view still reads it all."""
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or length <= limit:
        digest.update(_canonical(request))
        return digest.hexdigest()
    spool = tempfile.SpooledTemporaryFile(max_size=limit)  # noqa: SIM115 (outlives this call)
    while chunk := request._stream.read(_CHUNK):
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    # A binary file like the stream it replaces; typeshed's SpooledTemporaryFile is no BinaryIO.
    request._stream = spool  # type: ignore[assignment]
    return digest.hexdigest()


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> HttpResponse:
    return problem_json_response(
        problem(status=status, code=code, title=title, detail=detail, **extra)
    )


def _key_reused() -> HttpResponse:
    return _problem(
        422,
        "idempotency.key_reused",
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request (method, path or body).",
    )


def _replay(record: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(record["content"], status=record["status"])
    for name, value in record["headers"].items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


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
        return self._handle(request, f"idem:{scope}", fingerprint)

    def _handle(self, request: HttpRequest, record_key: str, fingerprint: str) -> HttpResponse:
        lock_key = f"{record_key}:lock"
        deadline = time.monotonic() + _setting("IDEMPOTENCY_WAIT_SECONDS", 10)
        poll = _setting("IDEMPOTENCY_POLL_SECONDS", 0.05)
        waited = False
        while True:
            record = cache.get(record_key)
            if record is not None:
                if record["fingerprint"] != fingerprint:
                    return _key_reused()
                return _replay(record)
            owner = f"{fingerprint}:{uuid.uuid4().hex}"
            if cache.add(lock_key, owner, timeout=_setting("IDEMPOTENCY_LOCK_SECONDS", 60)):
                if waited:
                    # The view will act: authenticate again rather than trust a check made
                    # before the wait.
                    forget_bearer_authentication(request)
                return self._first(request, record_key, lock_key, owner, fingerprint)
            holder = cache.get(lock_key)
            if holder is not None and not holder.startswith(fingerprint):
                return _key_reused()
            if time.monotonic() >= deadline:
                response = _problem(
                    409,
                    "idempotency.in_progress",
                    "Request in progress",
                    "A request with this Idempotency-Key is still being processed. Retry later.",
                )
                response["Retry-After"] = "1"
                return response
            time.sleep(poll)
            waited = True

    def _first(
        self, request: HttpRequest, record_key: str, lock_key: str, owner: str, fingerprint: str
    ) -> HttpResponse:
        try:
            # The previous holder may have stored its response between our get and our add.
            record = cache.get(record_key)
            if record is not None:
                return _key_reused() if record["fingerprint"] != fingerprint else _replay(record)
            response = self.get_response(request)
            if (
                200 <= response.status_code < 500
                and response.status_code not in NOT_STORED_STATUSES
                and not response.streaming
                and (content := _stored_content(response)) is not None
            ):
                record = {
                    "fingerprint": fingerprint,
                    "status": response.status_code,
                    "content": content,
                    "headers": {h: response[h] for h in REPLAYED_HEADERS if h in response},
                }
                try:
                    cache.set(record_key, record, timeout=settings.IDEMPOTENCY_TTL)
                except Exception:
                    # The view has acted: answer with its response rather than a 500 the client
                    # would retry. Only the replay is lost.
                    logger.exception("could not store the idempotent response")
            return response
        finally:
            # Release only our own lock (it may have expired and been taken by another request).
            if cache.get(lock_key) == owner:
                cache.delete(lock_key)
