"""Writes for accounts, sessions (refresh tokens), addresses, shops, follows and API keys."""

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.text import slugify
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from apps import events
from apps.core.authentication import (
    GENERATION_CLAIM,
    SESSION_CLAIM,
    token_revoked_for,
    token_session,
)
from apps.core.errors import InvalidInput
from apps.core.slugs import first_free_slug, suffixed_slug
from apps.users.errors import (
    AddressNotFound,
    ApiKeyNotFound,
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    NotShopOwner,
    SelfFollow,
    ShopAlreadyExists,
    TokenInvalid,
    TokenReused,
    TokenRevoked,
    WrongPassword,
)
from apps.users.models import Address, ApiKey, EndedSession, Shop, ShopFollow, User

# --- Passwords


def password_check(*, password: str, user: User, pointer: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS; failures become 400 with one error per rule."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            "The password is too weak.",
            errors=[
                {"pointer": pointer, "code": error.code or "invalid", "detail": message}
                for error in exc.error_list
                for message in error.messages
            ],
        ) from exc


# --- Sessions: JWT refresh tokens with rotation and reuse detection
#
# A session is what one login starts: its refresh tokens carry a random id in the `sid` claim,
# simplejwt copies it into every access token made from them and a rotation passes it on. A
# password change ends every session but the caller's by that id.


class SessionRefreshToken(RefreshToken):
    """A refresh token of one session, recorded as outstanding with its `sid` claim in it, and
    the user's `tokens_generation` as `gen` (both copied into its access tokens).

    `RefreshToken.for_user` records the token before a claim can be added, and a password change
    reads the session id back from the recorded text; so this takes simplejwt's claims from
    `Token.for_user` and records the token itself, with the one INSERT `for_user` makes."""

    @classmethod
    def for_session(cls, *, user: User, session_id: str) -> "SessionRefreshToken":
        token = super(BlacklistMixin, cls).for_user(user)  # Token.for_user: claims, no record
        token[SESSION_CLAIM] = session_id
        token[GENERATION_CLAIM] = user.tokens_generation
        OutstandingToken.objects.create(
            user=user,
            jti=token[jwt_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


def session_tokens_issue(*, user: User) -> dict[str, str]:
    """A new session: a refresh token with a new session id (recorded as outstanding) and its
    access token."""
    refresh = SessionRefreshToken.for_session(user=user, session_id=str(uuid.uuid4()))
    update_last_login(User, user)  # the signal receiver's sender (unused): the user model
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _recorded_session(raw: str) -> str | None:
    """The session id inside a recorded (outstanding) refresh token; the text is our own, read
    from our database, so it is decoded without checking the signature or expiry again."""
    try:
        # simplejwt annotates the token as a Token object; it is the encoded JWT (str or bytes).
        return token_session(token_backend.decode(raw, verify=False))  # type: ignore[arg-type]
    except TokenBackendError:
        return None


def _usable_refresh_tokens(user_id: Any) -> QuerySet[OutstandingToken]:
    """The user's recorded refresh tokens that are neither expired nor blacklisted."""
    return OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )


def _with_sessions(tokens: QuerySet[OutstandingToken]) -> list[tuple[Any, str | None]]:
    """(pk, session id read from the recorded text) of each token."""
    return [(pk, _recorded_session(raw)) for pk, raw in tokens.values_list("pk", "token")]


def _blacklist(token_ids: list[Any]) -> None:
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in token_ids], ignore_conflicts=True
    )


def refresh_tokens_revoke_all(*, user_id: Any, except_session: str | None = None) -> int:
    """Blacklist every outstanding, unexpired refresh token of the user, except those of the
    session `except_session` (None: no exception). Returns how many.

    Refresh tokens only: access tokens already issued stay valid until they expire. To end every
    session, access tokens included, use `session_revoke_all`."""
    outstanding = _usable_refresh_tokens(user_id)
    if except_session is None:
        revoked = list(outstanding.values_list("pk", flat=True))
    else:
        revoked = [pk for pk, session in _with_sessions(outstanding) if session != except_session]
    _blacklist(revoked)
    return len(revoked)


def _sessions_end(
    *, user: User, keep_session: str | None = None, fields: tuple[str, ...] = ()
) -> int:
    """End every session of the user but `keep_session`: tokens issued before now, access and
    refresh, are refused from now on (`tokens_generation` incremented in the row, so concurrent
    revocations count each; `tokens_kept_session`; `tokens_valid_after` records when) and their
    refresh tokens blacklisted. Saves `fields` of the user too. Call it in a transaction."""
    user.tokens_valid_after = timezone.now()
    user.tokens_kept_session = None if keep_session is None else uuid.UUID(keep_session)
    user.tokens_generation = F("tokens_generation") + 1
    user.save(
        update_fields=[*fields, "tokens_valid_after", "tokens_generation", "tokens_kept_session"]
    )
    user.refresh_from_db(fields=["tokens_generation"])
    return refresh_tokens_revoke_all(user_id=user.pk, except_session=keep_session)


@transaction.atomic
def session_revoke_all(*, user: User) -> int:
    """Log out everywhere: every token of the user issued before now, access and refresh, is
    refused from now on (`tokens_generation`, checked on every request and refresh; no session
    spared) and every refresh token is blacklisted. Returns how many refresh tokens were
    blacklisted."""
    return _sessions_end(user=user)


def _decode_refresh(raw: str) -> dict[str, Any]:
    """Signature, expiry and type checked; the blacklist deliberately not (the caller decides)."""
    from rest_framework_simplejwt.tokens import UntypedToken

    try:
        payload = UntypedToken(raw).payload  # type: ignore[arg-type]  # the encoded JWT, as above
    except TokenError as exc:
        raise TokenInvalid("The refresh token is invalid or expired.") from exc
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not payload.get("jti"):
        raise TokenInvalid("Not a refresh token.")
    return payload


def _ended_session_key(payload: dict[str, Any]) -> uuid.UUID | None:
    """What logout records to end a refresh token's session: its session id, or for a token
    from before sessions had ids (a session of its own until its rotation gives it one) its
    `jti`, a UUID as well. None only for a `jti` we never sign."""
    session = token_session(payload)
    try:
        return uuid.UUID(session or str(payload["jti"]))
    except ValueError:
        return None


def _outstanding_locked(jti: Any) -> OutstandingToken | None:
    """The recorded refresh token with this `jti`, its row locked (in a transaction)."""
    return (
        # order_by: the model orders by user, an outer join FOR UPDATE cannot lock
        OutstandingToken.objects.select_for_update().filter(jti=jti).order_by("pk").first()
    )


def session_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Rotate a refresh token: the presented one is blacklisted, a new pair is returned.

    The new token keeps the session id (`sid`) of the presented one (a token from before
    sessions had ids gets a new one). A token revoked by `tokens_generation` (logout-all,
    password change or reset, reuse; see `token_revoked`) raises `TokenRevoked`, and so does
    any token of a session ended by logout (`session_revoke`), rotated or not. Presenting any
    other token that was already rotated or revoked is treated as theft: every session of the
    user ends as by `session_revoke_all`, access tokens included, and `TokenReused` is raised.
    The presented token's row is locked, so two concurrent refreshes with the same token yield
    one success and one reuse.
    """
    payload = _decode_refresh(raw_refresh)
    user_id: Any = payload.get(jwt_settings.USER_ID_CLAIM)  # a claim: whatever was signed
    ended_key = _ended_session_key(payload)
    reused = False
    with transaction.atomic():
        outstanding = _outstanding_locked(payload["jti"])
        if outstanding is None:
            raise TokenInvalid("The refresh token is unknown.")
        user = User.objects.filter(pk=user_id).first()
        if user is not None and token_revoked_for(payload, user):
            # Checked before the blacklist: a token ended by logout-all or a password change is
            # no sign of theft, and treating it as reuse would let whoever holds an old token
            # (the thief a password change locked out) end the sessions opened since.
            raise TokenRevoked(
                "This refresh token was revoked: the account signed out everywhere or its "
                "password changed. Sign in again."
            )
        if ended_key is not None and EndedSession.objects.filter(pk=ended_key).exists():
            # Checked before the blacklist too: the session was signed out, so whoever presents
            # one of its tokens (the other tab, a refresh that lost the race with the logout)
            # holds nothing live; ending the account's other sessions would punish the owner.
            raise TokenRevoked(
                "This refresh token was revoked: its session signed out. Sign in again."
            )
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            # Theft: whoever holds the token also holds its access tokens, so they end too.
            if user is None:
                refresh_tokens_revoke_all(user_id=outstanding.user_id)
            else:
                _sessions_end(user=user)
            reused = True
        else:
            if user is None or not user.is_active:
                raise TokenInvalid("The account is disabled.")
            BlacklistedToken.objects.create(token=outstanding)
            new_refresh = SessionRefreshToken.for_session(
                user=user, session_id=token_session(payload) or str(uuid.uuid4())
            )
    if reused:
        # Raised after the block so that the family revocation commits.
        raise TokenReused(
            "This refresh token was already used. Every session of this account has been "
            "signed out; sign in again."
        )
    return {"access": str(new_refresh.access_token), "refresh": str(new_refresh)}


@transaction.atomic
def session_revoke(*, user: User, raw_refresh: str) -> None:
    """Log out one session: the session of the given refresh token (its `sid`) ends, the other
    sessions go on. Idempotent; a token that was already rotated ends its session as well.

    The session id is recorded (`EndedSession`): from then on `session_refresh` refuses every
    refresh token of the session, rotated or not, with `TokenRevoked` (not as reuse), including
    one a concurrent rotation issues while this runs. Its unexpired refresh tokens are
    blacklisted too. Its access tokens live until they expire (authentication stays one query).
    Raises InvalidInput for an invalid token or another account's; then nothing changes."""
    try:
        payload = _decode_refresh(raw_refresh)
    except TokenInvalid as exc:
        raise InvalidInput(
            "The refresh token is invalid.",
            errors=[{"pointer": "/refresh", "code": "token_invalid", "detail": exc.detail}],
        ) from exc
    if str(payload.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise InvalidInput(
            "The refresh token belongs to another account.",
            errors=[{"pointer": "/refresh", "code": "token_invalid", "detail": "Not your token."}],
        )
    # Locked as `session_refresh` locks it: a rotation of this very token finishes first, so
    # the token it issued is among those blacklisted below.
    outstanding = _outstanding_locked(payload["jti"])
    if outstanding is None:
        return  # not one of ours any more: nothing to end
    ended_key = _ended_session_key(payload)
    if ended_key is not None:
        EndedSession.objects.bulk_create(
            [EndedSession(session_id=ended_key, user=user)], ignore_conflicts=True
        )
    ended = [outstanding.pk]
    session = token_session(payload)
    if session is not None:
        ended += [pk for pk, of in _with_sessions(_usable_refresh_tokens(user.pk)) if of == session]
    _blacklist(ended)


def sessions_prune(*, now: Any = None) -> dict[str, int]:
    """Delete what no request can use any more: refresh-token records past their expiry (with
    their blacklist rows; an expired token is refused on its signature alone) and logout records
    (`EndedSession`) older than a refresh token's lifetime plus a day, by when every token of
    their session has expired. Returns how many of each. Daily by beat (`users.prune_sessions`).
    """
    now = now or timezone.now()
    _, expired = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    horizon = now - jwt_settings.REFRESH_TOKEN_LIFETIME - timedelta(days=1)
    ended, _ = EndedSession.objects.filter(ended_at__lt=horizon).delete()
    return {
        "refresh_tokens": expired.get(OutstandingToken._meta.label, 0),
        "ended_sessions": ended,
    }


# --- Accounts


def user_signup(*, email: str, password: str, name: str) -> User:
    """Create a customer account. Raises EmailTaken (case-insensitive) or InvalidInput."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, name=name)
    password_check(password=password, user=candidate, pointer="/password")
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(f"An account with {email} already exists.")
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError as exc:  # a concurrent signup won the race
        raise EmailTaken(f"An account with {email} already exists.") from exc


def user_login(*, request: HttpRequest | None, email: str, password: str) -> User:
    """Check credentials; the same error for an unknown email and a wrong password."""
    user = authenticate(request, email=email.strip().lower(), password=password)
    if user is None:
        raise InvalidCredentials("The email or password is wrong.")
    return user


def user_update(*, user: User, name: str | None = None, phone: str | None = None) -> User:
    fields = []
    if name is not None:
        user.name = name
        fields.append("name")
    if phone is not None:
        user.phone = phone
        fields.append("phone")
    if fields:
        user.save(update_fields=fields)
    return user


def user_password_change(
    *, user: User, old_password: str, new_password: str, keep_session: str | None
) -> None:
    """Change the password and end every other session: every token issued before now, access
    and refresh, is refused from now on (`tokens_generation`) and its refresh token blacklisted,
    except those of `keep_session` (the caller's session id, `token_session(request.auth)`; None
    when the caller's token has none: then every session ends). Raises WrongPassword or
    InvalidInput (weak password); then nothing changes."""
    if not user.check_password(old_password):
        raise WrongPassword(
            "The current password is wrong.",
            errors=[
                {"pointer": "/old_password", "code": "wrong_password", "detail": "Wrong password."}
            ],
        )
    password_check(password=new_password, user=user, pointer="/new_password")
    with transaction.atomic():
        user.set_password(new_password)
        _sessions_end(user=user, keep_session=keep_session, fields=("password",))


def password_reset_request(*, email: str) -> None:
    """Queue a reset email if an active account has this email; silent otherwise."""
    from apps.users.tasks import send_password_reset_email

    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None and user.has_usable_password():
        transaction.on_commit(lambda: send_password_reset_email.delay(str(user.pk)))


def password_reset_link(*, user: User) -> tuple[str, str]:
    """(uid, token): the token is one-time because it hashes the password and last login."""
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link and end every session: every token issued before
    now, access and refresh, is refused from now on (`tokens_generation`) and every refresh
    token is blacklisted. Raises InvalidResetToken or InvalidInput (weak password)."""
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
        user = User.objects.get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist) as exc:
        raise InvalidResetToken("The reset link is invalid or has expired.") from exc
    if not default_token_generator.check_token(user, token):
        raise InvalidResetToken("The reset link is invalid or has expired.")
    password_check(password=new_password, user=user, pointer="/new_password")
    with transaction.atomic():
        user.set_password(new_password)
        _sessions_end(user=user, fields=("password",))
    return user


# --- Address book


@transaction.atomic
def address_create(*, user: User, data: dict[str, Any]) -> Address:
    is_default = bool(data.pop("is_default", False)) or not user.addresses.exists()
    if is_default:
        user.addresses.filter(is_default=True).update(is_default=False)
    return Address.objects.create(user=user, is_default=is_default, **data)


@transaction.atomic
def address_update(*, user: User, address_id: Any, data: dict[str, Any]) -> Address:
    address = Address.objects.select_for_update().filter(pk=address_id, user=user).first()
    if address is None:
        raise AddressNotFound()
    if data.get("is_default"):
        user.addresses.exclude(pk=address.pk).filter(is_default=True).update(is_default=False)
    for field, value in data.items():
        setattr(address, field, value)
    address.save()
    return address


def address_delete(*, user: User, address_id: Any) -> None:
    deleted, _ = Address.objects.filter(pk=address_id, user=user).delete()
    if not deleted:
        raise AddressNotFound()


# --- Shops and follows


def unique_shop_slug(name: str) -> str:
    """A free slug from the name (`corner-store`, `corner-store-2`…) that never reads as an id:
    shop paths take a UUID-looking text for an id (apps.core.slugs)."""
    base = slugify(name)[:120] or "shop"
    taken = set(Shop.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    return first_free_slug(base, taken)


def _check_logo(*, logo_id: Any, allowed_owner_ids: set[Any]) -> Any:
    if logo_id is None:
        return None
    media_asset = django_apps.get_model("media", "MediaAsset")
    asset = (
        media_asset.objects.filter(pk=logo_id, owner_id__in=allowed_owner_ids)
        .exclude(status="failed")
        .first()
    )
    if asset is None:
        raise InvalidInput(
            "Unknown logo.",
            errors=[
                {
                    "pointer": "/logo_id",
                    "code": "does_not_exist",
                    "detail": "No usable media asset of yours has this id.",
                }
            ],
        )
    return asset


def shop_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    shipping_fee: Decimal = Decimal("0.00"),
    free_shipping_threshold: Decimal | None = None,
) -> Shop:
    """Open the owner's one shop; its slug comes from the name and is unique.

    Raises ShopAlreadyExists when the owner has one (also under a concurrent create).
    """
    if Shop.objects.filter(owner=owner).exists():
        raise ShopAlreadyExists()
    base = slugify(name)[:120] or "shop"
    for attempt in range(3):
        slug = (
            unique_shop_slug(name)
            if attempt == 0
            else suffixed_slug(base, lambda: secrets.token_hex(3))
        )
        try:
            with transaction.atomic():
                shop = Shop.objects.create(
                    owner=owner,
                    name=name,
                    slug=slug,
                    description=description,
                    shipping_fee=shipping_fee,
                    free_shipping_threshold=free_shipping_threshold,
                )
        except IntegrityError as exc:
            if Shop.objects.filter(owner=owner).exists():
                raise ShopAlreadyExists() from exc
            continue  # the slug was taken concurrently; try a random suffix
        owner.__dict__.pop("shop", None)
        return shop
    raise ShopAlreadyExists("Could not allocate a shop address; try another name.")


_SHOP_EDITABLE = ("name", "description", "shipping_fee", "free_shipping_threshold")


def shop_update(*, shop: Shop, actor: User, data: dict[str, Any]) -> Shop:
    """Edit a shop's public fields; only its seller or staff. The slug never changes."""
    if not (actor.is_staff or shop.owner_id == actor.pk):
        raise NotShopOwner()
    fields = [field for field in _SHOP_EDITABLE if field in data]
    for field in fields:
        setattr(shop, field, data[field])
    if "logo_id" in data:
        shop.logo = _check_logo(
            logo_id=data["logo_id"], allowed_owner_ids={actor.pk, shop.owner_id}
        )
        fields.append("logo")
    if fields:
        with transaction.atomic():
            shop.save(update_fields=[*fields, "updated_at"])
            events.emit(
                "shop.updated", shop.pk, {"shop_id": str(shop.pk), "fields": sorted(fields)}
            )
    return shop


def shop_status_set(*, shop: Shop, status: str) -> bool:
    """Suspend or reactivate a shop (staff). When the status changes, emits `shop.updated` in the
    same transaction, so the catalog drops the shop's cached products and list pages (a suspended
    shop's products leave the storefront at once). Returns whether the status changed."""
    if status not in Shop.Status.values:
        raise ValueError(f"unknown shop status {status!r}")
    with transaction.atomic():
        changed = (
            Shop.objects.filter(pk=shop.pk)
            .exclude(status=status)
            .update(status=status, updated_at=timezone.now())
        )
        if changed:
            events.emit("shop.updated", shop.pk, {"shop_id": str(shop.pk), "fields": ["status"]})
    shop.status = status
    return bool(changed)


def shop_follow(*, shop: Shop, user: User) -> bool:
    """Follow a shop (idempotent). Returns True when a new follow was created.

    The follower count moves in the same transaction as the follow row, and a `shop.followed`
    event is written only for a new follow.
    """
    if shop.owner_id == user.pk:
        raise SelfFollow()
    with transaction.atomic():
        try:
            with transaction.atomic():
                ShopFollow.objects.create(shop=shop, user=user)
        except IntegrityError:
            return False
        Shop.objects.filter(pk=shop.pk).update(follower_count=F("follower_count") + 1)
        events.emit(
            "shop.followed",
            shop.pk,
            {"shop_id": str(shop.pk), "user_id": str(user.pk), "seller_id": str(shop.owner_id)},
        )
    return True


def shop_unfollow(*, shop: Shop, user: User) -> bool:
    """Stop following (idempotent). Returns True when a follow was removed."""
    with transaction.atomic():
        deleted, _ = ShopFollow.objects.filter(shop=shop, user=user).delete()
        if deleted:
            Shop.objects.filter(pk=shop.pk, follower_count__gt=0).update(
                follower_count=F("follower_count") - 1
            )
    return bool(deleted)


# --- API keys

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
    "reviews",
    "notifications",
    "media",
)
API_KEY_SCOPES = tuple(f"{area}:{access}" for area in API_KEY_AREAS for access in ("read", "write"))


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
