from django.urls import path

from apps.dashboard.api import views

urlpatterns = [
    path("seller/dashboard", views.SellerDashboardApi.as_view(), name="seller-dashboard"),
]
