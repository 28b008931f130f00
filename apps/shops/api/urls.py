from django.urls import path

from apps.shops.api import views

urlpatterns = [
    path("shops", views.ShopListCreateApi.as_view(), name="shops"),
    path("shops/<str:ident>", views.ShopDetailApi.as_view(), name="shop-detail"),
    path("shops/<str:ident>/follow", views.ShopFollowApi.as_view(), name="shop-follow"),
]
