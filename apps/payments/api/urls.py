from django.urls import path

from apps.core.api.routers import ApiRouter
from apps.payments.api.views import (
    CheckoutViewSet,
    PayoutViewSet,
    SellerBalanceApi,
    SellerLedgerEntryViewSet,
    StripeWebhookApi,
)

router = ApiRouter()
router.register("checkouts", CheckoutViewSet, basename="checkout")
router.register("seller/balance/entries", SellerLedgerEntryViewSet, basename="seller-balance-entry")
router.register("payouts", PayoutViewSet, basename="payout")

urlpatterns: list = [
    path("payments/webhooks/stripe", StripeWebhookApi.as_view(), name="payments-webhook-stripe"),
    path("seller/balance", SellerBalanceApi.as_view(), name="seller-balance"),
    *router.urls,
]
