from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.payments.api.views import (
    CheckoutViewSet,
    PayoutViewSet,
    SellerBalanceApi,
    SellerLedgerEntryViewSet,
    StripeWebhookApi,
)

# path() patterns (not regexes): config/urls.py mounts every app's patterns flat.
router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("checkouts", CheckoutViewSet, basename="checkout")
router.register("seller/balance/entries", SellerLedgerEntryViewSet, basename="seller-balance-entry")
router.register("payouts", PayoutViewSet, basename="payout")

urlpatterns: list = [
    path("payments/webhooks/stripe", StripeWebhookApi.as_view(), name="payments-webhook-stripe"),
    path("seller/balance", SellerBalanceApi.as_view(), name="seller-balance"),
    *router.urls,
]
