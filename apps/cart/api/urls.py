from django.urls import path

from apps.cart.api.views import CartItemViewSet, CartViewSet
from apps.core.api.routers import ApiRouter

router = ApiRouter()
router.register("cart/items", CartItemViewSet, basename="cart-item")

# The cart is a singleton (the caller's, no id in the path): a route shape the router has not.
urlpatterns: list = [
    path("cart", CartViewSet.as_view({"get": "retrieve", "delete": "destroy"}), name="cart"),
    path("cart/merge", CartViewSet.as_view({"post": "merge"}), name="cart-merge"),
    *router.urls,
]
