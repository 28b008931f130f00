"""Checkout payments, the Stripe webhook, the seller balance and payouts. Thin: validate, call
one service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import problem_responses
from apps.core.pagination import CursorPagination
from apps.core.permissions import IsAuthenticatedUser, IsSeller, IsStaff
from apps.payments import intents, ledger, selectors, webhooks
from apps.payments.api import examples
from apps.payments.api.serializers import (
    BalanceOutput,
    BalanceQuery,
    CheckoutDetailOutput,
    EntryListQuery,
    EntryOutput,
    PayoutInput,
    PayoutListQuery,
    PayoutOutput,
)
from apps.payments.models import LedgerEntry, Payout
from apps.users.request_user import request_user

PAYMENT_TAGS = ["payments"]
BALANCE_TAGS = ["seller balance"]
PAYOUT_TAGS = ["payouts"]


def _checkout_data(checkout: Any) -> dict[str, Any]:
    orders = selectors.checkout_orders(checkout)
    payment = selectors.checkout_payment(checkout)
    return CheckoutDetailOutput(checkout, context={"orders": orders, "payment": payment}).data


class CheckoutViewSet(viewsets.GenericViewSet):
    """A buyer's checkout by number: its orders and its payment."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = CheckoutDetailOutput  # what OPTIONS describes
    lookup_field = "number"
    lookup_value_converter = "str"

    @extend_schema(
        tags=PAYMENT_TAGS,
        operation_id="checkouts_retrieve",
        summary="A checkout with its orders and payment",
        description=(
            "One of the caller's checkouts (staff: any) by its number: the orders placed "
            "together and their payment (null for cash on delivery), with the refunds made "
            "on it. Another user's checkout is 404 `checkout.not_found`."
        ),
        responses={200: CheckoutDetailOutput, **problem_responses(404)},
        examples=[examples.CHECKOUT_RESPONSE],
    )
    def retrieve(self, request: Request, number: str) -> Response:
        checkout = selectors.checkout_for_buyer(user=request_user(request), number=number)
        return Response(_checkout_data(checkout))

    @extend_schema(
        tags=PAYMENT_TAGS,
        operation_id="checkouts_pay",
        summary="Get a client secret to pay a card checkout (again)",
        description=(
            "After a failed attempt, or when the payment could not be started at placement: "
            "the checkout with a `payment.client_secret` to confirm with Stripe.js, while its "
            "orders are pending and unpaid and the payment window lasts. Otherwise 409 "
            "`payment.not_payable`; 503 `payment.provider_unavailable` when Stripe cannot be "
            "reached (try again)."
        ),
        request=None,
        responses={
            200: CheckoutDetailOutput,
            **problem_responses(
                404, codes={409: ["payment.not_payable"], 503: ["payment.provider_unavailable"]}
            ),
        },
        examples=[examples.CHECKOUT_RESPONSE],
    )
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, number: str) -> Response:
        checkout = selectors.checkout_for_buyer(
            user=request_user(request), number=number, own_only=True
        )
        intents.payment_retry(checkout=checkout)
        return Response(_checkout_data(checkout))


class StripeWebhookApi(APIView):
    """Stripe's webhook: no user, no throttle (Stripe retries what is refused); the signature
    is the authentication."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        tags=PAYMENT_TAGS,
        operation_id="payments_webhooks_stripe",
        summary="Stripe webhook",
        description=(
            "Called by Stripe with a `Stripe-Signature` header, verified against "
            "`STRIPE_WEBHOOK_SECRET` with a timestamp tolerance: a missing or bad signature is "
            "400 `payment.bad_signature` and changes nothing. Each event id is handled once "
            "(a redelivery answers 200 `duplicate`). Handles `payment_intent.succeeded`, "
            "`payment_intent.payment_failed`, `payment_intent.canceled` and `charge.refunded`; "
            "other types are recorded and ignored."
        ),
        request={"application/json": {"type": "object"}},
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {
                        "received": {"type": "boolean"},
                        "outcome": {"type": "string"},
                    },
                    "required": ["received", "outcome"],
                },
                description="Handled (or handled before).",
            ),
            **problem_responses(codes={400: ["payment.bad_signature"]}),
        },
        # No request example: no example could carry a signature that verifies.
        examples=[examples.WEBHOOK_RESPONSE],
    )
    def post(self, request: Request) -> Response:
        outcome = webhooks.webhook_receive(
            provider="stripe",
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
        return Response({"received": True, "outcome": outcome})


class SellerBalanceApi(APIView):
    permission_classes = [IsSeller]

    @extend_schema(
        tags=BALANCE_TAGS,
        operation_id="seller_balance_retrieve",
        summary="The shop's balance",
        description=(
            "What the platform owes the caller's shop: `available` (sales delivered more than "
            "PAYOUT_DELAY_DAYS ago, less refunds, commission and payouts) and `pending` (still "
            "within the delay). Staff name a shop with `?shop=`."
        ),
        parameters=[BalanceQuery],
        responses={200: BalanceOutput, **problem_responses(403, 404)},
        examples=[examples.BALANCE_RESPONSE],
    )
    def get(self, request: Request) -> Response:
        query = BalanceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop = selectors.seller_shop(
            user=request_user(request), shop=query.validated_data.get("shop")
        )
        balance = ledger.shop_balance(shop_id=shop.pk)
        return Response(BalanceOutput(balance).data)


class SellerLedgerEntryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsSeller]
    serializer_class = EntryOutput
    pagination_class = CursorPagination

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        query = EntryListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        shop = selectors.seller_shop(
            user=request_user(self.request), shop=query.validated_data.get("shop")
        )
        return ledger.shop_entries(shop_id=shop.pk, kind=query.validated_data.get("kind"))

    @extend_schema(
        tags=BALANCE_TAGS,
        operation_id="seller_balance_entries_list",
        summary="The shop's ledger entries",
        description=(
            "Every change of the shop's balance, newest first (cursor pagination): `sale` "
            "(+ the order's total on delivery), `commission` (- the platform's share), "
            "`refund` (the sale reversed; its commission comes back as a `commission` entry), "
            "`payout` (-). `?kind=` filters; staff name a shop with `?shop=`."
        ),
        parameters=[EntryListQuery],
        responses={200: EntryOutput(many=True), **problem_responses(403, 404)},
        examples=[examples.ENTRIES_RESPONSE],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class PayoutViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Staff record the payouts made to shops."""

    permission_classes = [IsStaff]
    serializer_class = PayoutOutput
    pagination_class = CursorPagination
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[Payout]:
        if getattr(self, "swagger_fake_view", False) or self.action != "list":
            return selectors.payouts()
        query = PayoutListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        ident = query.validated_data.get("shop")
        shop = selectors.seller_shop(user=request_user(self.request), shop=ident) if ident else None
        return selectors.payouts(shop=shop)

    @extend_schema(
        tags=PAYOUT_TAGS,
        operation_id="payouts_list",
        summary="Payouts",
        description="Every payout, newest first (cursor pagination); `?shop=` narrows to one.",
        parameters=[PayoutListQuery],
        responses={200: PayoutOutput(many=True), **problem_responses(403)},
        examples=[examples.PAYOUTS_RESPONSE],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=PAYOUT_TAGS,
        operation_id="payouts_retrieve",
        summary="A payout",
        description="One payout by id.",
        responses={200: PayoutOutput, **problem_responses(403)},
        examples=[examples.PAYOUT_RESPONSE],
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        tags=PAYOUT_TAGS,
        operation_id="payouts_create",
        summary="Record a payout to a shop",
        description=(
            "Records money paid out to a shop (after the bank transfer named by `reference`): "
            "debits its available balance. More than it has available is 409 "
            "`payout.exceeds_balance` (with `available`); two payouts at once cannot both "
            "spend the same balance. An unknown shop is 400 with the pointer `/shop`."
        ),
        request=PayoutInput,
        responses={
            201: PayoutOutput,
            **problem_responses(403, codes={409: ["payout.exceeds_balance"]}),
        },
        # No request example: a fresh demo shop has nothing available to pay out yet.
        examples=[examples.PAYOUT_RESPONSE],
    )
    def create(self, request: Request) -> Response:
        body = PayoutInput(data=request.data)
        body.is_valid(raise_exception=True)
        payout = ledger.payout_create(
            shop_id=body.validated_data["shop"].pk,
            amount=body.validated_data["amount"],
            reference=body.validated_data["reference"],
            actor=request_user(request),
        )
        payout = selectors.payouts().get(pk=payout.pk)
        return Response(PayoutOutput(payout).data, status=status.HTTP_201_CREATED)
