"""API keys of client applications: issue, scope, authenticate, revoke."""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.users.errors import ApiKeyNotFound
from apps.users.models import ApiKey, User

API_KEY_PREFIX_BYTES = 6


def api_key_hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


# What a scoped key may reach: an area of the API (the app that serves the endpoint) and the
# access, `read` (GET, HEAD) or `write` (everything else; it includes read). A key without
# scopes reaches everything; the health endpoints and the API docs are always open.
API_KEY_AREAS = (
    "users",
    "catalog",
    "inventory",
    "cart",
    "discounts",
    "orders",
    "payments",
    "reviews",
    "notifications",
    "media",
    "dashboard",
    "imports",
    "webhooks",
)
API_KEY_SCOPES = tuple(f"{area}:{access}" for area in API_KEY_AREAS for access in ("read", "write"))
# Apps whose endpoints belong to another app's area: the shops endpoints were served by the users
# app when scopes were first issued, so `users:read`/`users:write` keep reaching them.
API_KEY_AREA_OF_APP = {"shops": "users"}


def api_key_area(view_module: str) -> str | None:
    """The API area of a view by the module that defines it (`apps.<app>....`): the app, or the
    area it belongs to (`API_KEY_AREA_OF_APP`); None outside the areas (health, docs)."""
    parts = view_module.split(".")
    if len(parts) < 2 or parts[0] != "apps":
        return None
    area = API_KEY_AREA_OF_APP.get(parts[1], parts[1])
    return area if area in API_KEY_AREAS else None


def api_key_allows(key: ApiKey, *, area: str, write: bool) -> bool:
    """Whether `key` may make a read (`write` False) or write request to an API area."""
    if not key.scopes:
        return True
    return f"{area}:write" in key.scopes or (not write and f"{area}:read" in key.scopes)


def api_key_create(
    *, name: str, scopes: list[str] | None = None, rate: str = "", created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Issue a key. Returns (row, raw key); the raw key `prefix.secret` is never stored."""
    secret = secrets.token_urlsafe(32)
    for _ in range(5):
        prefix = "mk_" + secrets.token_hex(API_KEY_PREFIX_BYTES)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=name,
                    prefix=prefix,
                    hashed_secret=api_key_hash(secret),
                    scopes=list(scopes or []),
                    rate=rate,
                    created_by=created_by,
                )
        except IntegrityError:
            continue  # prefix collision: astronomically rare, try another
        return key, f"{prefix}.{secret}"
    raise RuntimeError("could not allocate a unique API key prefix")


def api_key_revoke(*, key_id: Any) -> ApiKey:
    """Revoke a key (idempotent: the first revocation time is kept)."""
    ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None:
        raise ApiKeyNotFound()
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key matching `prefix.secret`, or None. Constant-time secret comparison."""
    prefix, sep, secret = raw.strip().partition(".")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.hashed_secret, api_key_hash(secret)):
        return None
    return key


API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once a minute per key (a conditional UPDATE, no read)."""
    now = timezone.now()
    if key.last_used_at and now - key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL),
        pk=key.pk,
    ).update(last_used_at=now)
    key.last_used_at = now
