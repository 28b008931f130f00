from django.urls import path

from apps.cart.api import views

urlpatterns = [
    path("cart", views.CartApi.as_view(), name="cart"),
    path("cart/items", views.CartItemListApi.as_view(), name="cart-items"),
    path("cart/items/<uuid:item_id>", views.CartItemDetailApi.as_view(), name="cart-item"),
    path("cart/merge", views.CartMergeApi.as_view(), name="cart-merge"),
]
