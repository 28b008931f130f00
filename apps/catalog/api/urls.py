from django.urls import path

from apps.catalog.api import views

urlpatterns = [
    path("product-types", views.ProductTypeListApi.as_view(), name="product-types"),
    path("categories", views.CategoryTreeApi.as_view(), name="categories"),
    path("products", views.ProductListCreateApi.as_view(), name="products"),
    path("products/<str:ident>", views.ProductDetailApi.as_view(), name="product-detail"),
    path("products/<str:ident>/publish", views.ProductPublishApi.as_view(), name="product-publish"),
    path(
        "products/<str:ident>/unpublish",
        views.ProductUnpublishApi.as_view(),
        name="product-unpublish",
    ),
    path(
        "products/<str:ident>/variants", views.VariantCreateApi.as_view(), name="product-variants"
    ),
    path(
        "products/<str:ident>/variants/<str:variant_id>",
        views.VariantDetailApi.as_view(),
        name="product-variant-detail",
    ),
    path("seller/products", views.SellerProductListApi.as_view(), name="seller-products"),
]
