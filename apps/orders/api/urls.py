from django.urls import path

from apps.orders.api.checkout_review import CheckoutReviewApi, DiscountValidateApi

urlpatterns: list = [
    path("checkout/review", CheckoutReviewApi.as_view(), name="checkout-review"),
    path("discounts/validate", DiscountValidateApi.as_view(), name="discounts-validate"),
]
