from typing import cast
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from apps.cart import errors, services
from apps.cart.api.serializers import CartItemAddInput, CartItemUpdateInput, CartOutput
from apps.cart.models import Cart
from apps.cart.selectors import cart_summary, cart_summary_empty
from apps.catalog.demo import EXAMPLE_VARIANT_ID
from apps.core.errors import field_error
from apps.core.openapi import demo_example, problem_responses
from apps.core.permissions import IsAuthenticatedUser
from apps.users.request_user import request_user

CART_TOKEN_HEADER = "X-Cart-Token"  # noqa: S105 (a header name, not a secret)

TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Guest cart token from an earlier cart response (ignored for signed-in users).",
)


def _token(request: Request) -> str:
    return request.headers.get(CART_TOKEN_HEADER, "").strip()


def _cart(request: Request) -> Cart:
    """The caller's cart: the user's when signed in, else the guest cart of the token (a new one
    when the token is missing or unknown)."""
    if request.user.is_authenticated:
        return services.cart_get_for_user(user=request.user)
    cart, _ = services.cart_get_for_guest(token=_token(request))
    return cart


def _existing_cart(request: Request) -> Cart | None:
    """The caller's cart, None for a guest whose token names no cart: reads never create one."""
    if request.user.is_authenticated:
        return services.cart_get_for_user(user=request.user)
    return services.cart_find_for_guest(token=_token(request))


def _cart_response(cart: Cart, status_code: int = status.HTTP_200_OK) -> Response:
    guest = cart.user_id is None
    response = Response(
        CartOutput(cart_summary(cart=cart, include_token=guest)).data, status=status_code
    )
    if guest:
        # A guest cart always has a token: CHECK constraint cart_user_xor_token.
        response[CART_TOKEN_HEADER] = cast(str, cart.token)
    return response


class CartViewSet(viewsets.GenericViewSet):
    """The caller's cart, a singleton (no id in its path, so mounted by hand in urls.py): read,
    empty, and merge a guest cart into it."""

    serializer_class = CartOutput  # what OPTIONS describes

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "merge":  # a signed-in user's cart takes the guest's
            return [IsAuthenticatedUser()]
        return [AllowAny()]  # guests too

    @extend_schema(
        operation_id="cart_retrieve",
        summary="Get the cart",
        description=(
            "The caller's cart with current prices, grouped by shop. A signed-in user gets their "
            "own cart; a guest gets the cart of `X-Cart-Token`. A guest without a cart (no "
            "token, or one that names no cart) gets an empty cart with `id: null` and no token, "
            "and nothing is stored: the first `POST /cart/items` creates the cart and hands out "
            "its token in the `X-Cart-Token` response header and in `token`."
        ),
        parameters=[TOKEN_PARAMETER],
        responses=CartOutput,
    )
    def retrieve(self, request: Request) -> Response:
        cart = _existing_cart(request)
        if cart is None:  # no token, or an unknown one: the first added line creates the cart
            return Response(CartOutput(cart_summary_empty()).data)
        return _cart_response(cart)

    @extend_schema(
        operation_id="cart_clear",
        summary="Empty the cart",
        description=(
            "Remove every line of the caller's cart (a guest's: the cart of `X-Cart-Token`)."
        ),
        parameters=[TOKEN_PARAMETER],
        responses={204: None},
    )
    def destroy(self, request: Request) -> Response:
        cart = _existing_cart(request)
        if cart is not None:
            services.cart_clear(cart=cart)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="cart_merge",
        summary="Merge a guest cart into the user's cart",
        description=(
            "After logging in, fold the guest cart named by `X-Cart-Token` into the caller's "
            "cart: quantities of the same variant add up (capped by the line limit and the "
            "stock), lines no longer for sale are dropped and the guest cart is deleted. A token "
            "naming no guest cart changes nothing, so a retried merge is harmless. Needs both the"
            " user's bearer token and the guest's `X-Cart-Token`."
        ),
        parameters=[
            OpenApiParameter(
                CART_TOKEN_HEADER,
                str,
                location=OpenApiParameter.HEADER,
                required=True,
                description="The guest cart to fold into the caller's cart.",
            )
        ],
        request=None,
        responses=CartOutput,
    )
    @action(detail=False, methods=["post"])
    def merge(self, request: Request) -> Response:
        token = _token(request)
        if not token:
            raise errors.CartTokenRequired(
                "Send the guest cart's token in the X-Cart-Token header.",
                errors=[field_error("", "required", "X-Cart-Token header is required.")],
            )
        return _cart_response(services.cart_merge(user=request_user(request), token=token))


class CartItemViewSet(viewsets.GenericViewSet):
    """The lines of the caller's cart: add, set the quantity, remove."""

    permission_classes = [AllowAny]  # guests too
    serializer_class = CartItemAddInput  # what OPTIONS describes
    lookup_field = "item_id"
    lookup_value_converter = "uuid"

    @extend_schema(
        operation_id="cart_items_add",
        examples=[
            demo_example(
                "Two speakers",
                {"variant_id": str(EXAMPLE_VARIANT_ID), "quantity": 2},
                login=None,
                summary="Two units of a demo speaker (as a guest)",
            )
        ],
        summary="Add a variant to the cart",
        description=(
            "Adds `quantity` units of a published variant, to an existing line of the same "
            "variant if there is one. A guest without `X-Cart-Token` gets a new cart: keep the "
            "`X-Cart-Token` response header for the next calls. A line holds at most "
            "CART_MAX_LINE_QUANTITY units (99 by default; 422 `cart.line_quantity_limit`) and "
            "never more than is available (409 `inventory.insufficient_stock`)."
        ),
        parameters=[TOKEN_PARAMETER],
        request=CartItemAddInput,
        responses={
            201: CartOutput,
            **problem_responses(
                codes={
                    404: ["cart.variant_not_found"],
                    409: ["inventory.insufficient_stock"],
                    422: ["cart.line_quantity_limit"],
                }
            ),
        },
    )
    def create(self, request: Request) -> Response:
        body = CartItemAddInput(data=request.data)
        body.is_valid(raise_exception=True)
        cart = _cart(request)
        services.cart_item_add(cart=cart, **body.validated_data)
        return _cart_response(cart, status.HTTP_201_CREATED)

    def _cart_or_404(self, request: Request) -> Cart:
        cart = _existing_cart(request)
        if cart is None:
            raise errors.CartItemNotFound("No such item in your cart.")
        return cart

    @extend_schema(
        operation_id="cart_items_update",
        summary="Set a cart line's quantity",
        description=("The absolute quantity of a line of the caller's cart; 0 removes the line."),
        parameters=[TOKEN_PARAMETER],
        request=CartItemUpdateInput,
        responses={
            200: CartOutput,
            **problem_responses(
                codes={
                    404: ["cart.item_not_found"],
                    409: ["inventory.insufficient_stock"],
                    422: ["cart.line_quantity_limit"],
                }
            ),
        },
    )
    def partial_update(self, request: Request, item_id: UUID) -> Response:
        body = CartItemUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        cart = self._cart_or_404(request)
        services.cart_item_set_quantity(cart=cart, item_id=item_id, **body.validated_data)
        return _cart_response(cart)

    @extend_schema(
        operation_id="cart_items_remove",
        summary="Remove a cart line",
        description=(
            "Remove one line of the caller's cart; an unknown line is 404 `cart.item_not_found`."
        ),
        parameters=[TOKEN_PARAMETER],
        responses={204: None, **problem_responses(codes={404: ["cart.item_not_found"]})},
    )
    def destroy(self, request: Request, item_id: UUID) -> Response:
        services.cart_item_remove(cart=self._cart_or_404(request), item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
