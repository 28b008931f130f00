from django.urls import path

from apps.media.api import views

urlpatterns = [
    path("media", views.MediaUploadApi.as_view(), name="media-upload"),
    path("media/from-url", views.MediaFromUrlApi.as_view(), name="media-from-url"),
    path("media/presign", views.MediaPresignApi.as_view(), name="media-presign"),
    path("media/<uuid:asset_id>", views.MediaDetailApi.as_view(), name="media-detail"),
    path("media/<uuid:asset_id>/complete", views.MediaCompleteApi.as_view(), name="media-complete"),
]
