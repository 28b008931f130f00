"""Thin HTTP layer: validate input, call one service or selector, serialize the result."""

from typing import Any, cast
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import Token

from apps.core.authentication import token_session
from apps.core.idempotency import redact_when_stored
from apps.core.openapi import problem_responses
from apps.core.pagination import PageNumberPagination
from apps.core.permissions import IsAuthenticatedUser, IsStaff
from apps.core.throttling import ApiKeyThrottle, LoginEmailThrottle, LoginIpThrottle
from apps.users import selectors, services
from apps.users.api.serializers import (
    AddressInput,
    AddressOutput,
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    AuthOutput,
    LoginInput,
    MeUpdateInput,
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    RefreshInput,
    ShopCreateInput,
    ShopOutput,
    ShopUpdateInput,
    SignupInput,
    TokenPairOutput,
    UserOutput,
)
from apps.users.models import Address, ApiKey, Shop
from apps.users.request_user import request_user
from apps.users.throttling import PasswordResetEmailThrottle, PasswordResetIpThrottle


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


def _auth_body(user: Any, tokens: dict[str, str]) -> dict[str, Any]:
    user = selectors.user_get_with_shop(user_id=user.pk)
    return AuthOutput({"user": user, **tokens}).data


# --- Auth


class SignupApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        operation_id="auth_signup",
        request=SignupInput,
        responses={201: AuthOutput, **problems(INVALID, (409, "user.email_taken"))},
    )
    def post(self, request: Request) -> Response:
        body = SignupInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_signup(**body.validated_data)
        tokens = services.session_tokens_issue(user=user)
        return Response(_auth_body(user, tokens), status=status.HTTP_201_CREATED)


class LoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginIpThrottle, LoginEmailThrottle, ApiKeyThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_login",
        request=LoginInput,
        responses={
            200: AuthOutput,
            **problems(INVALID, (401, "auth.invalid_credentials"), (429, "throttled")),
        },
    )
    def post(self, request: Request) -> Response:
        body = LoginInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_login(request=request._request, **body.validated_data)
        tokens = services.session_tokens_issue(user=user)
        return Response(_auth_body(user, tokens))


class RefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        operation_id="auth_refresh",
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
    def post(self, request: Request) -> Response:
        body = RefreshInput(data=request.data)
        body.is_valid(raise_exception=True)
        tokens = services.session_refresh(raw_refresh=body.validated_data["refresh"])
        return Response(TokenPairOutput(tokens).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        description=(
            "End the session of the given refresh token: every refresh token of that session, "
            "rotated or not, is refused from now on with 401 `auth.token_revoked`; the "
            "account's other sessions go on. The session's access tokens stay valid until they "
            "expire. Idempotent."
        ),
        request=RefreshInput,
        responses={204: NO_CONTENT, **problems(INVALID, UNAUTHENTICATED)},
    )
    def post(self, request: Request) -> Response:
        body = RefreshInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.session_revoke(
            user=request_user(request), raw_refresh=body.validated_data["refresh"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout_all",
        description=(
            "End every session of the account, this one included: every access and refresh "
            "token issued before is refused with 401 `auth.token_revoked`."
        ),
        request=None,
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED)},
    )
    def post(self, request: Request) -> Response:
        services.session_revoke_all(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PasswordResetIpThrottle, PasswordResetEmailThrottle, ApiKeyThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset",
        request=PasswordResetInput,
        responses={
            202: OpenApiResponse(description="Accepted, whether or not the email is known."),
            **problems(INVALID, (429, "throttled")),
        },
    )
    def post(self, request: Request) -> Response:
        body = PasswordResetInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.password_reset_request(email=body.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset_confirm",
        request=PasswordResetConfirmInput,
        responses={204: NO_CONTENT, **problems(INVALID, (400, "auth.invalid_reset_token"))},
    )
    def post(self, request: Request) -> Response:
        body = PasswordResetConfirmInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.password_reset_confirm(**body.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Me


class MeApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        operation_id="me_retrieve",
        responses={200: UserOutput, **problems(UNAUTHENTICATED)},
    )
    def get(self, request: Request) -> Response:
        user = selectors.user_get_with_shop(user_id=request.user.pk)
        return Response(UserOutput(user).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_update",
        request=MeUpdateInput,
        responses={200: UserOutput, **problems(INVALID, UNAUTHENTICATED)},
    )
    def patch(self, request: Request) -> Response:
        body = MeUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.user_update(user=request_user(request), **body.validated_data)
        user = selectors.user_get_with_shop(user_id=request.user.pk)
        return Response(UserOutput(user).data)


class MePasswordApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        operation_id="me_password_change",
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
        services.user_password_change(
            user=request_user(request),
            # Our only authenticator (BearerJWTAuthentication) sets simplejwt's token; the stubs
            # name DRF's authtoken Token.
            keep_session=token_session(cast(Token | None, request.auth)),
            **body.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressListCreateApi(GenericAPIView):
    permission_classes = [IsAuthenticatedUser]
    pagination_class = PageNumberPagination
    serializer_class = AddressOutput

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Address.objects.none()
        return selectors.address_list(user=request_user(self.request))

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_list",
        responses={200: AddressOutput(many=True), **problems(UNAUTHENTICATED)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AddressOutput(page, many=True).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_create",
        request=AddressInput,
        responses={201: AddressOutput, **problems(INVALID, UNAUTHENTICATED)},
    )
    def post(self, request: Request) -> Response:
        body = AddressInput(data=request.data)
        body.is_valid(raise_exception=True)
        address = services.address_create(
            user=request_user(request), data=dict(body.validated_data)
        )
        return Response(AddressOutput(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_update",
        request=AddressInput(partial=True),
        responses={
            200: AddressOutput,
            **problems(INVALID, UNAUTHENTICATED, (404, "address.not_found")),
        },
    )
    def patch(self, request: Request, address_id: UUID) -> Response:
        body = AddressInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        address = services.address_update(
            user=request_user(request), address_id=address_id, data=dict(body.validated_data)
        )
        return Response(AddressOutput(address).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_addresses_delete",
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED, (404, "address.not_found"))},
    )
    def delete(self, request: Request, address_id: UUID) -> Response:
        services.address_delete(user=request_user(request), address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Shops

SHOP_IDENT = OpenApiParameter(
    "ident", str, OpenApiParameter.PATH, description="The shop's slug or id."
)


class ShopListCreateApi(GenericAPIView):
    pagination_class = PageNumberPagination
    serializer_class = ShopOutput
    queryset = Shop.objects.none()  # for the schema; reads go through selectors

    def get_permissions(self) -> list[Any]:
        return [IsAuthenticatedUser()] if self.request.method == "POST" else [AllowAny()]

    @extend_schema(
        tags=["shops"],
        operation_id="shops_list",
        parameters=[
            OpenApiParameter("search", str, description="Matches name or description."),
        ],
        responses={200: ShopOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        shops = selectors.shop_list(search=request.query_params.get("search", "").strip())
        page = self.paginate_queryset(shops)
        return self.get_paginated_response(ShopOutput(page, many=True).data)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_create",
        request=ShopCreateInput,
        responses={
            201: ShopOutput,
            **problems(INVALID, UNAUTHENTICATED, (409, "shop.already_exists")),
        },
    )
    def post(self, request: Request) -> Response:
        body = ShopCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        shop = services.shop_create(owner=request_user(request), **body.validated_data)
        return Response(ShopOutput(shop).data, status=status.HTTP_201_CREATED)


class ShopDetailApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsAuthenticatedUser()] if self.request.method == "PATCH" else [AllowAny()]

    @extend_schema(
        tags=["shops"],
        operation_id="shops_retrieve",
        parameters=[SHOP_IDENT],
        responses={200: ShopOutput, **problems((404, "shop.not_found"))},
    )
    def get(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        return Response(ShopOutput(shop).data)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_update",
        parameters=[SHOP_IDENT],
        request=ShopUpdateInput,
        responses={
            200: ShopOutput,
            **problems(INVALID, UNAUTHENTICATED, (403, "shop.not_owner"), (404, "shop.not_found")),
        },
    )
    def patch(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        body = ShopUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        shop = services.shop_update(
            shop=shop, actor=request_user(request), data=body.validated_data
        )
        return Response(ShopOutput(shop).data)


class ShopFollowApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["shops"],
        operation_id="shops_follow",
        parameters=[SHOP_IDENT],
        request=None,
        responses={
            204: NO_CONTENT,
            **problems(UNAUTHENTICATED, (404, "shop.not_found"), (422, "shop.self_follow")),
        },
    )
    def post(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        services.shop_follow(shop=shop, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["shops"],
        operation_id="shops_unfollow",
        parameters=[SHOP_IDENT],
        responses={204: NO_CONTENT, **problems(UNAUTHENTICATED, (404, "shop.not_found"))},
    )
    def delete(self, request: Request, ident: str) -> Response:
        shop = selectors.shop_get_visible(ident=ident, user=request.user)
        services.shop_unfollow(shop=shop, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API keys (staff)


class ApiKeyListCreateApi(GenericAPIView):
    permission_classes = [IsStaff]
    pagination_class = PageNumberPagination
    serializer_class = ApiKeyOutput
    queryset = ApiKey.objects.none()  # for the schema; reads go through selectors

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_list",
        responses={200: ApiKeyOutput(many=True), **problems(UNAUTHENTICATED, FORBIDDEN)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.api_key_list())
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_create",
        description=(
            "Issue a key. `key` (`prefix.secret`) is shown in this response only; the server "
            "keeps a hash of it. A retry with the same `Idempotency-Key` gets the same 201 body "
            "with `key` null (and `Idempotent-Replayed: true`): the secret is never stored for "
            "replays. A client that lost it revokes that key and issues another."
        ),
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput, **problems(INVALID, UNAUTHENTICATED, FORBIDDEN)},
    )
    def post(self, request: Request) -> Response:
        body = ApiKeyCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        key, raw = services.api_key_create(created_by=request_user(request), **body.validated_data)
        key.key = raw  # type: ignore[attr-defined]
        response = Response(ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)
        return redact_when_stored(response, "key")


class ApiKeyRevokeApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        tags=["api-keys"],
        operation_id="api_keys_revoke",
        responses={
            204: NO_CONTENT,
            **problems(UNAUTHENTICATED, FORBIDDEN, (404, "api_key.not_found")),
        },
    )
    def delete(self, request: Request, key_id: UUID) -> Response:
        services.api_key_revoke(key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
