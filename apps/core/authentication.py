from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from apps.core.db import get_by_pk


def token_revoked(*, issued_at: Any, tokens_valid_after: datetime | None) -> bool:
    """Whether a token with this `iat` was issued before the user's `tokens_valid_after` (set by
    logout-all, a password change or a password reset), so must be refused.

    `iat` has one-second granularity, so the cut-off is compared in whole seconds and a token
    issued in the same second as the revocation stays valid: a login right after logout-all must
    work, and its token cannot be told apart from one issued a few milliseconds before. A token
    without an integer `iat` (we never sign one) is refused once anything was revoked."""
    if tokens_valid_after is None:
        return False
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        return True
    return issued_at < int(tokens_valid_after.timestamp())


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication; its errors are rendered as problem+json 401 by the handler.

    `get_user` makes simplejwt's checks (user exists, is active, password unchanged when
    CHECK_REVOKE_TOKEN is on) and refuses tokens issued before the user's `tokens_valid_after`
    (401 `auth.token_revoked`), all on a user read with one hand-written SELECT: every
    authenticated request reads it, and building the ORM's `get()` cost twice the statement."""

    www_authenticate_realm = "api"

    def get_user(self, validated_token: Token):  # type: ignore[no-untyped-def]
        if self.user_model._meta.pk.name != api_settings.USER_ID_FIELD:
            return self._refuse_revoked(validated_token, super().get_user(validated_token))
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            user = get_by_pk(self.user_model, user_id)
        except (ValueError, ValidationError):  # not an id at all (a token we signed never is)
            user = None
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return self._refuse_revoked(validated_token, user)

    @staticmethod
    def _refuse_revoked(validated_token: Token, user: Any) -> Any:
        """The user, unless the token predates its `tokens_valid_after` (read by the same SELECT,
        no extra query)."""
        if token_revoked(
            issued_at=validated_token.get("iat"),
            tokens_valid_after=getattr(user, "tokens_valid_after", None),
        ):
            # The exception handler renders this code as 401 `auth.token_revoked`.
            raise AuthenticationFailed(
                _(
                    "This token was revoked: the account signed out everywhere or its password "
                    "changed. Sign in again."
                ),
                code="token_revoked",
            )
        return user
