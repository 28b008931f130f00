"""Thin HTTP layer: validate input, call one service or selector, serialize the result. Auth,
addresses and API keys are ViewSets on a router (apps/users/api/urls.py); `me` and `me/password`,
singletons, are APIViews."""

from typing import Any, cast
from uuid import UUID

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import Token

from apps.core.authentication import token_session
from apps.core.idempotency import redact_when_stored
from apps.core.openapi import demo_example, problem_responses
from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsAuthenticatedUser, IsStaff
from apps.core.throttling import ApiKeyThrottle, LoginIpThrottle
from apps.users import selectors
from apps.users.api.serializers import (
    AddressInput,
    AddressOutput,
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    AuthOutput,
    EmailVerifyInput,
    LoginInput,
    MeUpdateInput,
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    RefreshInput,
    SignupInput,
    TokenPairOutput,
    UserOutput,
)
from apps.users.models import Address, ApiKey
from apps.users.request_user import request_user
from apps.users.services import accounts, addresses, api_keys, sessions
from apps.users.throttling import (
    EmailVerifyResendThrottle,
    PasswordResetEmailThrottle,
    PasswordResetIpThrottle,
    SignupThrottle,
)


def problems(*entries: tuple[int, str]) -> dict[tuple[int, str], OpenApiResponse]:
    """problem+json responses for the schema: (status, code) pairs, codes listed per status."""
    codes: dict[int, list[str]] = {}
    for code_status, code in entries:
        codes.setdefault(code_status, []).append(code)
    return problem_responses(codes=codes)


INVALID = (400, "invalid")
UNAUTHENTICATED = (401, "auth.not_authenticated")
FORBIDDEN = (403, "permission_denied")
NO_CONTENT = OpenApiResponse(description="Done; no body.")
# What an action open to anyone overrides: no permission needed and no authentication at all
# (a stale Authorization header must not turn a sign-in into a 401).
ANONYMOUS: dict[str, Any] = {"permission_classes": [AllowAny], "authentication_classes": []}


def _auth_body(user: Any, tokens: dict[str, str]) -> dict[str, Any]:
    user = selectors.user_get_with_shop(user_id=user.pk)
    return AuthOutput({"user": user, **tokens}).data


# --- Auth


class AuthViewSet(viewsets.ViewSet):
    """Sign-up, sign-in and sessions: commands under `auth/`, one action each. Anonymous actions
    run without authentication (`ANONYMOUS`); each names its throttles where they differ from
    the defaults."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_signup",
        examples=[
            demo_example(
                "A new customer",
                {
                    "email": "new.customer@example.com",
                    "password": "correct-horse-battery-staple",
                    "name": "Nova Customer",
                },
                login=None,
            )
        ],
        summary="Sign up",
        description=(
            "Create a customer account and log it in: the user and a token pair, as `POST "
            "/auth/login` returns. A taken e-mail is 409 `user.email_taken`; a weak password is"
            " 400 with a pointer to `/password`. Throttled per client address and globally (429"
            " `throttled` with `Retry-After`)."
        ),
        request=SignupInput,
        responses={
            201: AuthOutput,
            **problems(INVALID, (409, "user.email_taken"), (429, "throttled")),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        throttle_classes=[SignupThrottle, ApiKeyThrottle],
        **ANONYMOUS,
    )
    def signup(self, request: Request) -> Response:
        body = SignupInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = accounts.user_signup(**body.validated_data)
        tokens = sessions.session_tokens_issue(user=user)
        return Response(_auth_body(user, tokens), status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_login",
        examples=[
            demo_example(
                "The demo customer",
                {"email": "customer@example.com", "password": "demo-pass-2024"},
                login=None,
            )
        ],
        summary="Log in with e-mail and password",
        description=(
            "Returns the user and a new session's token pair: `access` (send as `Authorization:"
            " Bearer <access>`) and `refresh` (for `POST /auth/refresh`). Throttled per client "
            "address (`login`); failed logins per (e-mail, address) lock that pair, the right "
            "password included, for a minute, then twice as long each time (`login_failure`):"
            " 429 `throttled` with `Retry-After`. The owner signs in from another address."
        ),
        request=LoginInput,
        responses={
            200: AuthOutput,
            **problems(INVALID, (401, "auth.invalid_credentials"), (429, "throttled")),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        throttle_classes=[LoginIpThrottle, ApiKeyThrottle],
        **ANONYMOUS,
    )
    def login(self, request: Request) -> Response:
        body = LoginInput(data=request.data)
        body.is_valid(raise_exception=True)
        # DRF's Request offers the standard HttpRequest attributes (documented), which is all
        # Django's authenticate() hands to the backends and its signals.
        user = accounts.user_login(
            request=cast(HttpRequest, request),
            address=LoginIpThrottle().get_ident(request),
            **body.validated_data,
        )
        tokens = sessions.session_tokens_issue(user=user)
        return Response(_auth_body(user, tokens))

    @extend_schema(
        tags=["auth"],
        operation_id="auth_refresh",
        summary="Rotate a refresh token",
        description=(
            "Rotate a refresh token: the presented one is revoked and a new pair returned (same "
            "session). A token that was already rotated is reuse, treated as theft: 401 "
            "`auth.token_reused` and every session of the account ends, access tokens included. "
            "A token of a session ended by `auth/logout` (rotated or not), or issued before the "
            "account's last logout-all, password change or reset (and not of the session a "
            "password change kept): 401 `auth.token_revoked`, nothing else is revoked."
        ),
        request=RefreshInput,
        responses={
            200: TokenPairOutput,
            **problems(
                INVALID,
                (401, "auth.token_invalid"),
                (401, "auth.token_reused"),
                (401, "auth.token_revoked"),
            ),
        },
    )
    @action(detail=False, methods=["post"], **ANONYMOUS)
    def refresh(self, request: Request) -> Response:
        body = RefreshInput(data=request.data)
        body.is_valid(raise_exception=True)
        tokens = sessions.session_refresh(raw_refresh=body.validated_data["refresh"])
        return Response(TokenPairOutput(tokens).data)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        summary="Log out one session",
        description=(
            "End the session of the given refresh token: every refresh token of that session, "
            "rotated or not, is refused from now on with 401 `auth.token_revoked`; the "
            "account's other sessions go on. The session's access tokens are refused at once "
            "(401 `auth.token_revoked`), and its notification streams end. Idempotent."
        ),
        request=RefreshInput,
        responses={204: NO_CONTENT, **problems(INVALID, UNAUTHENTICATED)},
    )
    @action(detail=False, methods=["post"])
    def logout(self, request: Request) -> Response:
        body = RefreshInput(data=request.data)
        body.is_valid(raise_exception=True)
        sessions.session_revoke(
            user=request_user(request), raw_refresh=body.validated_data["refresh"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout_all",
        summary="Log out every session",
        description=(
            "End every session of the account, this one included: every access and refresh "
            "token issued before is refused with 401 `auth.token_revoked`."
        ),
        request=None,
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED)},
    )
    @action(detail=False, methods=["post"], url_path="logout-all")
    def logout_all(self, request: Request) -> Response:
        sessions.session_revoke_all(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_verify_email",
        summary="Verify the e-mail address",
        description=(
            "`token` comes from the link of the verification e-mail sent at sign-up (or by "
            "`POST /auth/verify-email/resend`); it expires after `EMAIL_VERIFICATION_MAX_AGE_HOURS`"
            " (72). Using it again changes nothing (204). Forged, expired, or of an address the "
            "account no longer has: 400 `auth.invalid_verification_token`. Deployments with "
            "`REQUIRE_EMAIL_VERIFICATION` refuse orders, reviews, comments, uploads and "
            "notification streams of unverified accounts with 403 `auth.email_unverified`."
        ),
        request=EmailVerifyInput,
        responses={
            204: NO_CONTENT,
            **problems(INVALID, (400, "auth.invalid_verification_token")),
        },
    )
    @action(detail=False, methods=["post"], url_path="verify-email", **ANONYMOUS)
    def verify_email(self, request: Request) -> Response:
        body = EmailVerifyInput(data=request.data)
        body.is_valid(raise_exception=True)
        accounts.email_verify(token=body.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_verify_email_resend",
        summary="Send the verification e-mail again",
        description=(
            "A new verification link to the caller's address, unless it is verified already "
            "(then nothing is sent); 202 either way. Throttled per account "
            "(`email_verify_resend`, 3 an hour: 429 `throttled` with `Retry-After`)."
        ),
        request=None,
        responses={
            202: OpenApiResponse(description="Accepted; sent unless already verified."),
            **problems(UNAUTHENTICATED, (429, "throttled")),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="verify-email/resend",
        url_name="verify-email-resend",
        throttle_classes=[EmailVerifyResendThrottle, ApiKeyThrottle],
    )
    def verify_email_resend(self, request: Request) -> Response:
        accounts.email_verification_request(user=request_user(request))
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset",
        summary="Ask for a password reset e-mail",
        description=(
            "Always 202, whether or not an account has that e-mail (no account enumeration). A "
            "known account gets an e-mail with a one-time link carrying `uid` and `token` for "
            "`POST /auth/password-reset/confirm`."
        ),
        request=PasswordResetInput,
        responses={
            202: OpenApiResponse(description="Accepted, whether or not the email is known."),
            **problems(INVALID, (429, "throttled")),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="password-reset",
        throttle_classes=[PasswordResetIpThrottle, PasswordResetEmailThrottle, ApiKeyThrottle],
        **ANONYMOUS,
    )
    def password_reset(self, request: Request) -> Response:
        body = PasswordResetInput(data=request.data)
        body.is_valid(raise_exception=True)
        accounts.password_reset_request(email=body.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset_confirm",
        summary="Set a new password with a reset token",
        description=(
            "`uid` and `token` come from the reset e-mail; the token works once. Every session "
            "of the account ends."
        ),
        request=PasswordResetConfirmInput,
        responses={204: NO_CONTENT, **problems(INVALID, (400, "auth.invalid_reset_token"))},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="password-reset/confirm",
        url_name="password-reset-confirm",
        **ANONYMOUS,
    )
    def password_reset_confirm(self, request: Request) -> Response:
        body = PasswordResetConfirmInput(data=request.data)
        body.is_valid(raise_exception=True)
        accounts.password_reset_confirm(**body.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Me


class MeApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        operation_id="me_retrieve",
        summary="Get the signed-in user",
        description=("The caller's account: id, e-mail, name, phone, roles and shop (or null)."),
        responses={200: UserOutput, **problems(UNAUTHENTICATED)},
    )
    def get(self, request: Request) -> Response:
        user = selectors.user_get_with_shop(user_id=request.user.pk)
        return Response(UserOutput(user).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_update",
        summary="Update the signed-in user",
        description="Change `name` and/or `phone`. The e-mail never changes here.",
        request=MeUpdateInput,
        responses={200: UserOutput, **problems(INVALID, UNAUTHENTICATED)},
    )
    def patch(self, request: Request) -> Response:
        body = MeUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        accounts.user_update(user=request_user(request), **body.validated_data)
        user = selectors.user_get_with_shop(user_id=request.user.pk)
        return Response(UserOutput(user).data)


class MePasswordApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        operation_id="me_password_change",
        summary="Change the password",
        description=(
            "Change the password and end every other session: their access and refresh tokens "
            "are refused with 401 `auth.token_revoked`. The caller's session (the one its access "
            "token comes from) goes on: its access token and its refresh token stay valid."
        ),
        request=PasswordChangeInput,
        responses={
            204: NO_CONTENT,
            **problems(INVALID, (400, "auth.wrong_password"), UNAUTHENTICATED),
        },
    )
    def post(self, request: Request) -> Response:
        body = PasswordChangeInput(data=request.data)
        body.is_valid(raise_exception=True)
        accounts.user_password_change(
            user=request_user(request),
            # Our only authenticator (BearerJWTAuthentication) sets simplejwt's token; the stubs
            # name DRF's authtoken Token.
            keep_session=token_session(cast(Token | None, request.auth)),
            **body.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressViewSet(viewsets.GenericViewSet):
    """The caller's address book: list, create, partial update, delete."""

    permission_classes = [IsAuthenticatedUser]
    pagination_class = PageNumberPagination
    serializer_class = AddressOutput
    lookup_url_kwarg = "address_id"
    lookup_value_converter = "uuid"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Address.objects.none()
        return selectors.address_list(user=request_user(self.request))

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_list",
        summary="List saved addresses",
        description=(
            "The caller's address book (the default first, then newest), for `address_id` at "
            "checkout."
        ),
        responses={200: AddressOutput(many=True), **problems(UNAUTHENTICATED)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AddressOutput(page, many=True).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_create",
        examples=[
            demo_example(
                "A home address",
                {
                    "name": "Casey Customer",
                    "line1": "12 Market Street",
                    "city": "Portland",
                    "state": "OR",
                    "postal_code": "97201",
                    "country": "US",
                    "phone": "+15035550123",
                    "is_default": True,
                },
                login="customer@example.com",
            )
        ],
        summary="Save an address",
        description=(
            "Add an address to the caller's address book; use its `id` as `address_id` when "
            "placing an order."
        ),
        request=AddressInput,
        responses={201: AddressOutput, **problems(INVALID, UNAUTHENTICATED)},
    )
    def create(self, request: Request) -> Response:
        body = AddressInput(data=request.data)
        body.is_valid(raise_exception=True)
        address = addresses.address_create(
            user=request_user(request), data=dict(body.validated_data)
        )
        return Response(AddressOutput(address).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_update",
        summary="Change a saved address",
        description=(
            "Partial update of one of the caller's addresses; orders placed before keep their "
            "own copy."
        ),
        request=AddressInput(partial=True),
        responses={
            200: AddressOutput,
            **problems(INVALID, UNAUTHENTICATED, (404, "address.not_found")),
        },
    )
    def partial_update(self, request: Request, address_id: UUID) -> Response:
        body = AddressInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        address = addresses.address_update(
            user=request_user(request), address_id=address_id, data=dict(body.validated_data)
        )
        return Response(AddressOutput(address).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_delete",
        summary="Delete a saved address",
        description=(
            "Remove one of the caller's addresses; orders placed with it keep their copy."
        ),
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED, (404, "address.not_found"))},
    )
    def destroy(self, request: Request, address_id: UUID) -> Response:
        addresses.address_delete(user=request_user(request), address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API keys (staff)


class ApiKeyViewSet(viewsets.GenericViewSet):
    """API keys (staff): list, issue, revoke."""

    permission_classes = [IsStaff]
    pagination_class = PageNumberPagination
    serializer_class = ApiKeyOutput
    queryset = ApiKey.objects.none()  # for the schema; reads go through selectors
    lookup_url_kwarg = "key_id"
    lookup_value_converter = "uuid"

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_list",
        summary="List API keys (staff)",
        description=(
            "Every API key, newest first, without its secret: name, prefix, scopes, rate, last "
            "use and revocation time."
        ),
        responses={200: ApiKeyOutput(many=True), **problems(UNAUTHENTICATED, FORBIDDEN)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.api_key_list())
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_create",
        summary="Create an API key (staff)",
        description=(
            "Issue a key. `key` (`prefix.secret`) is shown in this response only; the server "
            "keeps a hash of it. A retry with the same `Idempotency-Key` gets the same 201 body "
            "with `key` null (and `Idempotent-Replayed: true`): the secret is never stored for "
            "replays. A client that lost it revokes that key and issues another."
        ),
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput, **problems(INVALID, UNAUTHENTICATED, FORBIDDEN)},
    )
    def create(self, request: Request) -> Response:
        body = ApiKeyCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        key, raw = api_keys.api_key_create(created_by=request_user(request), **body.validated_data)
        key.key = raw  # type: ignore[attr-defined]
        response = Response(ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)
        return redact_when_stored(response, "key")

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_revoke",
        summary="Revoke an API key (staff)",
        description=(
            "From now on the key is refused with 401 `auth.invalid_api_key`. Revoking twice "
            "keeps the first revocation time."
        ),
        responses={
            204: NO_CONTENT,
            **problems(UNAUTHENTICATED, FORBIDDEN, (404, "api_key.not_found")),
        },
    )
    def destroy(self, request: Request, key_id: UUID) -> Response:
        api_keys.api_key_revoke(key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
