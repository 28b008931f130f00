from django.urls import path

from apps.inventory.api import views

urlpatterns = [
    path("seller/inventory", views.SellerInventoryListApi.as_view(), name="seller-inventory"),
    path(
        "seller/inventory/<uuid:variant_id>",
        views.SellerInventoryDetailApi.as_view(),
        name="seller-inventory-detail",
    ),
    path(
        "seller/inventory/<uuid:variant_id>/adjust",
        views.SellerInventoryAdjustApi.as_view(),
        name="seller-inventory-adjust",
    ),
    path(
        "seller/inventory/<uuid:variant_id>/movements",
        views.SellerInventoryMovementsApi.as_view(),
        name="seller-inventory-movements",
    ),
]
