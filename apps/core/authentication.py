import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework import exceptions as drf
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import Token

# The session a token belongs to: its id, put into the refresh token at sign-in, copied by
# simplejwt into every access token made from it and kept by every rotation. Every token we sign
# carries one; a token without it is invalid.
SESSION_CLAIM = "sid"


def token_session(claims: Mapping[str, Any] | Token | None) -> str | None:
    """The session id a token carries in canonical form, or None: no token, or no session id
    (we never sign such a token)."""
    value = claims.get(SESSION_CLAIM) if claims is not None else None
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# How a validated token becomes its user: the app that keeps the sessions registers it
# (apps.users.apps), since this module sits below every app. It returns the user of the token's
# live session or raises simplejwt's AuthenticationFailed/InvalidToken; one query.
SessionUserLoader = Callable[[Token], Any]
_session_user_loaders: list[SessionUserLoader] = []


def session_user_loader_register(loader: SessionUserLoader) -> None:
    """Make `loader` the one BearerJWTAuthentication asks (the last registered wins)."""
    _session_user_loaders.append(loader)


# Where a request's Bearer authentication is remembered, so that the idempotency middleware's
# check and DRF's authentication share one SELECT (the session with its user): a key of the
# request's META, the one dict that Django's HttpRequest and DRF's Request (which proxies META)
# both expose publicly.
_OUTCOME_KEY = "marketplace.bearer_authentication"


def forget_bearer_authentication(request: HttpRequest) -> None:
    """Drop the remembered outcome: the next authentication of this request reads the session
    again (the idempotency middleware calls this after waiting for another request)."""
    request.META.pop(_OUTCOME_KEY, None)


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication; its errors are rendered as problem+json 401 by the handler.

    `get_user` reads the token's session with its user in one query (the loader the users app
    registers): an unknown session or a token without one is an invalid token, an ended session
    is 401 `auth.token_revoked`, an inactive user is refused as by simplejwt.

    The outcome (user and token, or the refusal) is remembered on the request for its token, so
    the idempotency middleware, which authenticates a request carrying an `Idempotency-Key` before
    the view, does not make DRF read the session a second time."""

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
        if not _session_user_loaders:
            raise ImproperlyConfigured("no session user loader is registered")
        return _session_user_loaders[-1](validated_token)
