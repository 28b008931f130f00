from django.urls import path

from apps.webhooks.api import views

urlpatterns = [
    path("webhooks", views.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", views.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:endpoint_id>/rotate-secret",
        views.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<uuid:endpoint_id>/ping", views.WebhookPingApi.as_view(), name="webhook-ping"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries",
        views.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/retry",
        views.WebhookDeliveryRetryApi.as_view(),
        name="webhook-delivery-retry",
    ),
]
