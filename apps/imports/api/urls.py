from django.urls import path

from apps.imports.api import views

urlpatterns = [
    path("seller/imports", views.SellerImportCreateApi.as_view(), name="seller-imports"),
    path(
        "seller/imports/<uuid:job_id>",
        views.SellerImportDetailApi.as_view(),
        name="seller-import-detail",
    ),
]
