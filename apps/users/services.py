"""Writes for accounts, sessions (refresh tokens), addresses and API keys."""

import hashlib
import hmac
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from apps.core.authentication import (
    GENERATION_CLAIM,
    SESSION_CLAIM,
    token_revoked_for,
    token_session,
)
from apps.core.errors import InvalidInput, field_error
from apps.events.task_outbox import task_enqueue
from apps.users.errors import (
    AddressNotFound,
    ApiKeyNotFound,
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    InvalidVerificationToken,
    LoginLockedOut,
    TokenInvalid,
    TokenReused,
    TokenRevoked,
    WrongPassword,
)
from apps.users.login_failures import (
    login_failure_record,
    login_failures_clear,
    login_lockout_remaining,
)
from apps.users.models import Address, ApiKey, EndedSession, User
from apps.users.signals import sessions_ended_send

# --- Passwords


def password_check(*, password: str, user: User, pointer: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS; failures become 400 with one error per rule."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            "The password is too weak.",
            errors=[
                field_error(pointer, error.code or "invalid", message)
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
    sessions_ended_send(user_id=user.pk)
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
        # NO KEY UPDATE: it serialises refreshes and logouts of the token, but lets a concurrent
        # logout-all or password change insert blacklist rows that reference it (KEY SHARE), so
        # neither waits on the other while holding the user row.
        OutstandingToken.objects.select_for_update(no_key=True)
        .filter(jti=jti)
        .order_by("pk")
        .first()
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
    blacklisted too, and its access tokens are refused at once (`_access_tokens_end`; a token
    from before sessions had ids has no session to match and lives until it expires).
    Raises InvalidInput for an invalid token or another account's; then nothing changes."""
    try:
        payload = _decode_refresh(raw_refresh)
    except TokenInvalid as exc:
        raise InvalidInput(
            "The refresh token is invalid.",
            errors=[field_error("/refresh", "token_invalid", exc.detail)],
        ) from exc
    if str(payload.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise InvalidInput(
            "The refresh token belongs to another account.",
            errors=[field_error("/refresh", "token_invalid", "Not your token.")],
        )
    # Locked as `session_refresh` locks it: a rotation of this very token finishes first, so
    # the token it issued is among those blacklisted below.
    outstanding = _outstanding_locked(payload["jti"])
    if outstanding is None:
        return  # not one of ours any more: nothing to end
    session = token_session(payload)
    if session is not None:
        # Before any blacklist row is written: a logout-all holding the user row waits on those
        # rows' unique key, so taking the user row after them would deadlock with it.
        _access_tokens_end(user=user, session_id=session)
    ended_key = _ended_session_key(payload)
    if ended_key is not None:
        EndedSession.objects.bulk_create(
            [EndedSession(session_id=ended_key, user=user)], ignore_conflicts=True
        )
    ended = [outstanding.pk]
    sessions_ended_send(user_id=user.pk, session_id=session)
    if session is not None:
        ended += [pk for pk, of in _with_sessions(_usable_refresh_tokens(user.pk)) if of == session]
    _blacklist(ended)


def _access_tokens_end(*, user: User, session_id: str) -> None:
    """Record the ended session on the user row, so that authentication, which reads that row
    anyway, refuses the session's access tokens at once. Entries older than an access token's
    lifetime (and the leeway) are dropped: every token they could refuse has expired. The row is
    locked (after the token's, before any blacklist row: the order every logout takes) so that
    concurrent logouts of one user each keep their entry."""
    locked = User.objects.select_for_update(no_key=True).only("tokens_ended_sessions")
    row = locked.get(pk=user.pk)
    now = int(time.time())
    lifetime = jwt_settings.ACCESS_TOKEN_LIFETIME + token_backend.get_leeway()
    horizon = now - int(lifetime.total_seconds())
    ended = {
        session: at
        for session, at in (row.tokens_ended_sessions or {}).items()
        if isinstance(at, int) and at >= horizon
    }
    ended[session_id] = now
    User.objects.filter(pk=user.pk).update(tokens_ended_sessions=ended)
    user.tokens_ended_sessions = ended


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


EMAIL_TAKEN_DETAIL = "An account with this e-mail already exists; sign in or reset the password."


def user_signup(*, email: str, password: str, name: str) -> User:
    """Create a customer account and queue its verification e-mail (sent after commit). Raises
    EmailTaken (case-insensitive) or InvalidInput."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, name=name)
    password_check(password=password, user=candidate, pointer="/password")
    # The answer never repeats the address: a page or a log that shows the body must not
    # turn it into a list of registered e-mails.
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(EMAIL_TAKEN_DETAIL)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, name=name)
            email_verification_request(user=user)
    except IntegrityError as exc:  # a concurrent signup won the race
        raise EmailTaken(EMAIL_TAKEN_DETAIL) from exc
    return user


# --- E-mail verification: a signed link, so nothing is stored until it is used

EMAIL_VERIFICATION_SALT = "apps.users.email-verification"


def email_verification_claims(*, user_id: Any, email: str) -> dict[str, str]:
    """What a verification token says: the account, and a digest of the address it was sent to
    (a changed address voids the link; the address itself stays out of URLs and their logs)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return {"user": str(user_id), "email": digest}


def email_verification_token(*, user: User) -> str:
    """A token for the verification link (`email_verification_claims`), signed with SECRET_KEY
    (Django's signing, salted) and timestamped; it expires after EMAIL_VERIFICATION_MAX_AGE."""
    return signing.dumps(
        email_verification_claims(user_id=user.pk, email=user.email),
        salt=EMAIL_VERIFICATION_SALT,
    )


def email_verification_request(*, user: User) -> bool:
    """Queue the verification e-mail (sent after the caller's transaction commits) unless the
    address is verified already. Returns whether one was queued."""
    from apps.users.tasks import send_email_verification

    if user.email_verified_at is not None or not user.is_active:
        return False
    task_enqueue(send_email_verification, user_id=str(user.pk))
    return True


def email_verify(*, token: str) -> User:
    """Mark the account of a verification link verified (idempotent: a second use changes
    nothing). Raises InvalidVerificationToken for a token that is forged, expired, of a
    deactivated account or of an address the account no longer has."""
    invalid = InvalidVerificationToken("The verification link is invalid or has expired.")
    try:
        claims = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=settings.EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.BadSignature as exc:  # SignatureExpired is one
        raise invalid from exc
    user = User.objects.filter(pk=claims["user"], is_active=True).first()
    if user is None or email_verification_claims(user_id=user.pk, email=user.email) != claims:
        raise invalid
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    user.refresh_from_db(fields=["email_verified_at"])
    return user


def user_login(
    *, request: HttpRequest | None, email: str, password: str, address: str = ""
) -> User:
    """Check credentials; the same error for an unknown email and a wrong password. Failures
    are counted per (email, client `address`): a pair that reached the limit raises LoginLockedOut
    (429, `retry_after`) without checking the password, the right one included, until its
    back-off has passed (apps.users.login_failures). A success clears the pair's count."""
    email = email.strip().lower()
    locked_for = login_lockout_remaining(email=email, address=address)
    if locked_for:
        raise LoginLockedOut(
            f"Too many failed sign-ins for this e-mail from this address. Retry in {locked_for} "
            "seconds, or reset the password.",
            retry_after=locked_for,
        )
    user = authenticate(request, email=email, password=password)
    if user is None:
        login_failure_record(email=email, address=address)
        raise InvalidCredentials("The email or password is wrong.")
    login_failures_clear(email=email, address=address)
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
            errors=[field_error("/old_password", "wrong_password", "Wrong password.")],
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
        task_enqueue(send_password_reset_email, user_id=str(user.pk))


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
