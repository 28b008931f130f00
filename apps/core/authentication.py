import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from apps.core.db import get_by_pk

# The session a token belongs to: a random id put into the refresh token at login, copied by
# simplejwt into every access token made from it and kept by every rotation (apps.users.services).
SESSION_CLAIM = "sid"
# The user's `tokens_generation` when the session's refresh token was issued, copied into its
# access tokens like `sid`: a revocation increments the user's, ending every token issued before.
GENERATION_CLAIM = "gen"


def token_session(claims: Mapping[str, Any] | Token | None) -> str | None:
    """The session id a token carries in canonical form, or None: no token, or one issued before
    sessions had ids (we never sign any other value)."""
    value = claims.get(SESSION_CLAIM) if claims is not None else None
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _claim_int(value: Any) -> int | None:
    """A claim that must be an integer (bool is not one), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def token_revoked(
    *,
    issued_at: Any,
    session_id: Any,
    generation: Any,
    tokens_valid_after: datetime | None,
    tokens_kept_session: uuid.UUID | None,
    tokens_generation: int,
) -> bool:
    """Whether a token must be refused because every session of its user was ended after it was
    issued (logout-all, a password change or reset, refresh-token reuse), unless it is of the
    session that revocation spared (`tokens_kept_session`: a password change keeps the caller's
    session; a token without a session id is never spared).

    A token carries the user's `tokens_generation` at its issue (`gen`, GENERATION_CLAIM) and
    each revocation increments it, so the order is exact: no clock is compared, a token issued a
    moment before a revocation is refused and one issued right after it passes. A token from
    before generations (no `gen`) is compared by its `iat` with `tokens_valid_after` in whole
    seconds, `iat`'s granularity (one issued in the revocation's second passes); without an
    integer `iat` either (we never sign one) it is refused once anything was revoked."""
    if tokens_valid_after is None and not tokens_generation:
        return False
    if tokens_kept_session is not None and session_id == str(tokens_kept_session):
        return False
    token_generation = _claim_int(generation)
    if token_generation is not None:
        return token_generation < tokens_generation
    issued = _claim_int(issued_at)
    if issued is None or tokens_valid_after is None:
        return True
    return issued < int(tokens_valid_after.timestamp())


def token_revoked_for(claims: Mapping[str, Any] | Token, user: Any) -> bool:
    """`token_revoked` for a token's claims and the user row it names."""
    return token_revoked(
        issued_at=claims.get("iat"),
        session_id=claims.get(SESSION_CLAIM),
        generation=claims.get(GENERATION_CLAIM),
        tokens_valid_after=getattr(user, "tokens_valid_after", None),
        tokens_kept_session=getattr(user, "tokens_kept_session", None),
        tokens_generation=getattr(user, "tokens_generation", 0),
    )


# Where a request's Bearer authentication is remembered (on the Django HttpRequest), so that the
# idempotency middleware's check and DRF's authentication share one user SELECT.
_OUTCOME_ATTR = "_bearer_authentication"


def forget_bearer_authentication(request: HttpRequest) -> None:
    """Drop the remembered outcome: the next authentication of this request reads the user row
    again (the idempotency middleware calls this after waiting for another request)."""
    request.__dict__.pop(_OUTCOME_ATTR, None)


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication; its errors are rendered as problem+json 401 by the handler.

    `get_user` makes simplejwt's checks (user exists, is active, password unchanged when
    CHECK_REVOKE_TOKEN is on) and refuses revoked tokens (`token_revoked`: issued before the
    user's last revocation and not of the session it spared; 401 `auth.token_revoked`), all
    on a user read with one hand-written SELECT: every authenticated request reads it, and
    building the ORM's `get()` cost twice the statement.

    The outcome (user and token, or the refusal) is remembered on the request for its token, so
    the idempotency middleware, which authenticates a request carrying an `Idempotency-Key` before
    the view, does not make DRF read the user a second time."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        http_request = getattr(request, "_request", request)  # DRF's Request wraps Django's
        remembered = http_request.__dict__.get(_OUTCOME_ATTR)
        if remembered is not None and remembered[0] == raw_token:
            outcome = remembered[1]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        try:
            validated_token = self.get_validated_token(raw_token)
            outcome = (self.get_user(validated_token), validated_token)
        except drf.AuthenticationFailed as exc:
            http_request.__dict__[_OUTCOME_ATTR] = (raw_token, exc)
            raise
        http_request.__dict__[_OUTCOME_ATTR] = (raw_token, outcome)
        return outcome

    def get_user(self, validated_token: Token) -> Any:
        # The `type: ignore[arg-type]`s below: simplejwt annotates an exception's detail as `str`,
        # but takes lazy translations (its own default_detail is one).
        if self.user_model._meta.pk.name != api_settings.USER_ID_FIELD:
            return self._refuse_revoked(validated_token, super().get_user(validated_token))
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(
                _("Token contained no recognizable user identification")  # type: ignore[arg-type]
            ) from exc
        try:
            user = get_by_pk(self.user_model, user_id)
        except (ValueError, ValidationError):  # not an id at all (a token we signed never is)
            user = None
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")  # type: ignore[arg-type]
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")  # type: ignore[arg-type]
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."),  # type: ignore[arg-type]
                code="password_changed",
            )
        return self._refuse_revoked(validated_token, user)

    @staticmethod
    def _refuse_revoked(validated_token: Token, user: Any) -> Any:
        """The user, unless the token is revoked (`token_revoked`, on the row read by the same
        SELECT: no extra query)."""
        if token_revoked_for(validated_token, user):
            # The exception handler renders this code as 401 `auth.token_revoked`.
            raise AuthenticationFailed(
                _(  # type: ignore[arg-type]  # a lazy string, as in get_user
                    "This token was revoked: the account signed out everywhere or its password "
                    "changed. Sign in again."
                ),
                code="token_revoked",
            )
        return user
