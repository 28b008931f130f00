"""Sign-in sessions: a `Session` row per sign-in, whose id every token carries (`sid`).

A token is accepted while its session exists and is not ended; a refresh token only while it is
the session's current one (`refresh_jti`). Rotation replaces that `jti` by a conditional update,
so of two refreshes with one token only one succeeds; presenting a replaced one is reuse, treated
as theft: every session of the account ends. Ending sessions (logout, logout-all, a password
change or reset, reuse, staff) sets `ended_at`; the user row is locked first whenever more than one
session ends, so such ends of one account run one at a time and never deadlock."""

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from apps.core.authentication import SESSION_CLAIM, token_session
from apps.core.errors import InvalidInput, field_error
from apps.users.errors import TokenInvalid, TokenReused, TokenRevoked
from apps.users.models import Session, User
from apps.users.signals import sessions_ended_send

EndReason = Session.EndReason

# Why a token of an ended session is refused: its own logout, or an end of every session.
SIGNED_OUT = {
    "access": "This token's session signed out. Sign in again.",
    "refresh": "This refresh token was revoked: its session signed out. Sign in again.",
}
SIGNED_OUT_EVERYWHERE = {
    "access": "This token was revoked: the account signed out everywhere or its password "
    "changed. Sign in again.",
    "refresh": "This refresh token was revoked: the account signed out everywhere or its "
    "password changed. Sign in again.",
}


def _refresh_token(*, user: User, session_id: Any) -> RefreshToken:
    """A new refresh token of the session (its access tokens copy `sid`)."""
    token = RefreshToken.for_user(user)
    token[SESSION_CLAIM] = str(session_id)
    return token


def _token_pair(refresh: RefreshToken) -> dict[str, str]:
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _expiry(token: Token) -> datetime:
    return datetime_from_epoch(token["exp"])


def session_tokens_issue(*, user: User) -> dict[str, str]:
    """Start a session (a sign-in): its row and its first token pair."""
    session_id = uuid.uuid4()
    refresh = _refresh_token(user=user, session_id=session_id)
    Session.objects.create(
        id=session_id,
        user=user,
        refresh_jti=refresh[jwt_settings.JTI_CLAIM],
        expires_at=_expiry(refresh),
    )
    update_last_login(User, user)  # the signal receiver's sender (unused): the user model
    return _token_pair(refresh)


def _refusal(reason: str, *, kind: str) -> str:
    """The detail refusing an `access` or `refresh` token of a session ended for `reason`."""
    return (SIGNED_OUT if reason == EndReason.LOGOUT else SIGNED_OUT_EVERYWHERE)[kind]


def session_token_user(token: Token) -> User:
    """The user of a validated access token's live session, in one query (the session with its
    user): BearerJWTAuthentication's loader (registered in apps.users.apps). Raises simplejwt's
    InvalidToken for a token without a session or with an unknown one, AuthenticationFailed
    `user_inactive` for a deactivated account and `token_revoked` for an ended session."""
    session_id = token_session(token)
    session = (
        Session.objects.select_related("user").filter(pk=session_id).first()
        if session_id is not None
        else None
    )
    if session is None or str(session.user_id) != str(token.get(jwt_settings.USER_ID_CLAIM)):
        raise InvalidToken(_("The token's session is unknown."))  # type: ignore[arg-type]
    if not session.user.is_active:
        raise AuthenticationFailed(_("User is inactive"), code="user_inactive")  # type: ignore[arg-type]
    if session.ended_at is not None:
        # The exception handler renders this code as 401 `auth.token_revoked`.
        raise AuthenticationFailed(
            _refusal(session.ended_reason, kind="access"), code="token_revoked"
        )
    return session.user


def _user_locked(user_id: Any) -> None:
    """Lock the user row (NO KEY UPDATE: sessions may still be inserted for it): the mutex of
    ending several sessions of one account."""
    list(User.objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))


def sessions_end(*, user_id: Any, reason: str, keep_session: str | None = None) -> int:
    """End every live session of the user but `keep_session` (a password change keeps the
    caller's), the user row locked first: their access and refresh tokens are refused from now on
    and their notification streams end (after commit). Returns how many ended. Call it in a
    transaction (a password change saves the password in the same one)."""
    _user_locked(user_id)
    live = Session.objects.filter(user_id=user_id, ended_at=None)
    if keep_session is not None:
        live = live.exclude(pk=keep_session)
    ended = live.update(ended_at=timezone.now(), ended_reason=reason)
    if ended:
        sessions_ended_send(user_id=user_id)
    return ended


@transaction.atomic
def session_revoke_all(*, user: User, reason: str = EndReason.LOGOUT_ALL) -> int:
    """Log out everywhere: every session of the user ends, access and refresh tokens alike.
    Returns how many sessions ended."""
    return sessions_end(user_id=user.pk, reason=reason)


def _decode_refresh(raw: str) -> tuple[dict[str, Any], str]:
    """(claims, session id) of a refresh token: signature, expiry, type and the presence of a
    session id checked; the session itself not (the caller decides)."""
    try:
        payload = UntypedToken(raw).payload  # type: ignore[arg-type]  # the encoded JWT
    except TokenError as exc:
        raise TokenInvalid("The refresh token is invalid or expired.") from exc
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not payload.get("jti"):
        raise TokenInvalid("Not a refresh token.")
    session_id = token_session(payload)
    if session_id is None:
        raise TokenInvalid("The refresh token is unknown.")
    return payload, session_id


def session_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Rotate a refresh token: a new pair of the same session, the presented token replaced.

    A token of an ended session raises TokenRevoked (logout, logout-all, a password change or
    reset, reuse: not reuse again, so an old token cannot end the sessions opened since). A token
    of a live session that is not its current one was rotated already: reuse, treated as theft,
    ends every session of the user and raises TokenReused. The rotation is a conditional update
    (`refresh_jti` still the presented one, the session not ended), so of concurrent refreshes
    with one token exactly one wins; the others find the token replaced (reuse) or, after the
    first of them ended the sessions, revoked."""
    payload, session_id = _decode_refresh(raw_refresh)
    user_id = str(payload.get(jwt_settings.USER_ID_CLAIM))
    reused = False
    with transaction.atomic():
        # The account's lock first, as every end of several sessions takes it before their
        # rows: a refresh holding the session row while waiting for the account would deadlock
        # with a logout-all holding the account while waiting for the row.
        _user_locked(user_id)
        session = (
            Session.objects.select_related("user").filter(pk=session_id, user_id=user_id).first()
        )
        if session is None:
            raise TokenInvalid("The refresh token is unknown.")
        if session.ended_at is None and not session.user.is_active:
            raise TokenInvalid("The account is disabled.")
        refresh = _refresh_token(user=session.user, session_id=session.pk)
        rotated = Session.objects.filter(
            pk=session.pk, refresh_jti=payload["jti"], ended_at=None
        ).update(
            refresh_jti=refresh[jwt_settings.JTI_CLAIM],
            refreshed_at=timezone.now(),
            expires_at=_expiry(refresh),
        )
        if not rotated:
            # Another token is current or the session ended, maybe by a request that finished
            # while this one waited for the account's lock: read it again.
            ended_reason = (
                Session.objects.filter(pk=session.pk, ended_at__isnull=False)
                .values_list("ended_reason", flat=True)
                .first()
            )
            if ended_reason is not None:
                raise TokenRevoked(_refusal(ended_reason, kind="refresh"))
            sessions_end(user_id=session.user_id, reason=EndReason.TOKEN_REUSE)
            reused = True
    if reused:
        # Raised after the block so that ending the sessions commits.
        raise TokenReused(
            "This refresh token was already used. Every session of this account has been "
            "signed out; sign in again."
        )
    return _token_pair(refresh)


def session_revoke(*, user: User, raw_refresh: str) -> None:
    """Log out one session: the session of the given refresh token (its `sid`) ends, whether the
    token is its current one or was rotated already; the other sessions go on. Its access and
    refresh tokens are refused from now on and its notification streams end. Idempotent. Raises
    InvalidInput for an invalid token or another account's; then nothing changes."""
    try:
        payload, session_id = _decode_refresh(raw_refresh)
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
    _session_end(session_id=session_id, user_id=user.pk, reason=EndReason.LOGOUT)


def session_end(*, session: Session, reason: str = EndReason.STAFF) -> bool:
    """End one session (staff, from the admin). Returns whether it was live."""
    return _session_end(session_id=str(session.pk), user_id=session.user_id, reason=reason)


@transaction.atomic
def _session_end(*, session_id: str, user_id: Any, reason: str) -> bool:
    """End one live session of the user (a single-row conditional update, so ending it twice
    is a no-op) and, after commit, its notification streams. Returns whether it was live."""
    ended = Session.objects.filter(pk=session_id, user_id=user_id, ended_at=None).update(
        ended_at=timezone.now(), ended_reason=reason
    )
    if ended:
        sessions_ended_send(user_id=user_id, session_id=session_id)
    return bool(ended)


def sessions_prune(*, now: datetime | None = None) -> int:
    """Delete the sessions ended, or whose refresh token expired, more than a refresh token's
    lifetime ago: no token of theirs can be used any more (one of a deleted session is refused
    as unknown), and the admin keeps the recent history. Returns how many. Daily by beat
    (`users.prune_sessions`)."""
    horizon = (now or timezone.now()) - jwt_settings.REFRESH_TOKEN_LIFETIME
    over = Q(ended_at__lt=horizon) | Q(expires_at__lt=horizon)
    deleted, _ = Session.objects.filter(over).delete()
    return deleted
