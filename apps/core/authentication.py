import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import Token

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


def token_session_ended(claims: Mapping[str, Any] | Token, user: Any) -> bool:
    """Whether the token's session was ended by logout recently enough that its access tokens
    may still be unexpired (`tokens_ended_sessions` of the user row; apps.users.services
    .session_revoke). A token without a session id is never matched."""
    session = token_session(claims)
    ended = getattr(user, "tokens_ended_sessions", None)
    return session is not None and isinstance(ended, dict) and session in ended


# Where a request's Bearer authentication is remembered, so that the idempotency middleware's
# check and DRF's authentication share one user SELECT: a key of the request's META, the one
# dict that Django's HttpRequest and DRF's Request (which proxies META) both expose publicly.
_OUTCOME_KEY = "marketplace.bearer_authentication"


def forget_bearer_authentication(request: HttpRequest) -> None:
    """Drop the remembered outcome: the next authentication of this request reads the user row
    again (the idempotency middleware calls this after waiting for another request)."""
    request.META.pop(_OUTCOME_KEY, None)


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication; its errors are rendered as problem+json 401 by the handler.

    `get_user` makes simplejwt's checks (user exists, is active, password unchanged when
    CHECK_REVOKE_TOKEN is on) and refuses revoked tokens (`token_revoked`: issued before the
    user's last revocation and not of the session it spared; 401 `auth.token_revoked`), all
    on the one user row simplejwt reads.

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
        remembered = request.META.get(_OUTCOME_KEY)
        if remembered is not None and remembered[0] == raw_token:
            outcome = remembered[1]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        try:
            validated_token = self.get_validated_token(raw_token)
            outcome = (self.get_user(validated_token), validated_token)
        except drf.AuthenticationFailed as exc:
            request.META[_OUTCOME_KEY] = (raw_token, exc)
            raise
        request.META[_OUTCOME_KEY] = (raw_token, outcome)
        return outcome

    def get_user(self, validated_token: Token) -> Any:
        try:
            user = super().get_user(validated_token)
        except (ValueError, ValidationError) as exc:  # not an id at all (we never sign one)
            raise AuthenticationFailed(
                _("User not found"),  # type: ignore[arg-type]  # a lazy string, as simplejwt's
                code="user_not_found",
            ) from exc
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
        if token_session_ended(validated_token, user):
            raise AuthenticationFailed(
                _("This token's session signed out. Sign in again."),  # type: ignore[arg-type]
                code="token_revoked",
            )
        return user
