from django.urls import path

from apps.discounts.api import views

urlpatterns = [
    path("seller/discounts", views.SellerDiscountListApi.as_view(), name="seller-discounts"),
    path(
        "seller/discounts/<uuid:discount_id>",
        views.SellerDiscountDetailApi.as_view(),
        name="seller-discount-detail",
    ),
    path("shops/<str:shop>/discounts", views.ShopDiscountListApi.as_view(), name="shop-discounts"),
    path(
        "discounts/<str:code>/products",
        views.DiscountProductListApi.as_view(),
        name="discount-products",
    ),
]
