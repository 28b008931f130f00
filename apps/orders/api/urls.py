from django.urls import path

from apps.orders.api.checkout_review import CheckoutReviewApi, DiscountValidateApi
from apps.orders.api.exports import SellerOrdersExportApi
from apps.orders.api.views import (
    OrderCancelApi,
    OrderDetailApi,
    OrderListCreateApi,
    SellerOrderDetailApi,
    SellerOrderListApi,
    SellerOrderTransitionApi,
)

urlpatterns: list = [
    path("checkout/review", CheckoutReviewApi.as_view(), name="checkout-review"),
    path("discounts/validate", DiscountValidateApi.as_view(), name="discounts-validate"),
    path("orders", OrderListCreateApi.as_view(), name="orders"),
    path("orders/<uuid:order_id>", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<uuid:order_id>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
    path("seller/orders", SellerOrderListApi.as_view(), name="seller-orders"),
    path("seller/exports/orders.csv", SellerOrdersExportApi.as_view(), name="seller-orders-export"),
    path(
        "seller/orders/<uuid:order_id>", SellerOrderDetailApi.as_view(), name="seller-order-detail"
    ),
    path(
        "seller/orders/<uuid:order_id>/transition",
        SellerOrderTransitionApi.as_view(),
        name="seller-order-transition",
    ),
]
