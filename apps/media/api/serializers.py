"""Media API serializers. `MediaAssetOutput` and `asset_url` are also what other apps (catalog
product images, shop logos) use to show an asset."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.media.image_processing import ACCEPTED_CONTENT_TYPES, THUMBNAIL_SIZES
from apps.media.models import MediaAsset
from apps.media.storage import storage_for


def asset_url(asset: MediaAsset) -> str | None:
    """The public (or signed, on S3 with AWS_QUERYSTRING_AUTH) URL of the cleaned original; None
    until the worker has verified and cleaned the upload (and for a failed one)."""
    if asset.status != MediaAsset.Status.READY:
        return None
    return storage_for(asset.backend).url(asset.storage_key)


def asset_thumbnail_urls(asset: MediaAsset) -> dict[str, str | None]:
    """{"small": url, "medium": url}; a size not made yet (or failed) is None."""
    stored = asset.thumbnails or {}
    storage = storage_for(asset.backend)
    return {
        name: storage.thumbnail_url(stored[name]) if stored.get(name) else None
        for name in THUMBNAIL_SIZES
    }


class ThumbnailsOutput(serializers.Serializer):
    small = serializers.CharField(allow_null=True, help_text="WebP, fits in 150x150.")
    medium = serializers.CharField(allow_null=True, help_text="WebP, fits in 600x600.")


class MediaAssetOutput(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    url = serializers.SerializerMethodField()
    content_type = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True, help_text="Bytes of the stored image.")
    width = serializers.IntegerField(read_only=True, allow_null=True)
    height = serializers.IntegerField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=MediaAsset.Status.choices, read_only=True)
    failure_reason = serializers.CharField(read_only=True)
    thumbnails = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    # A plain string, not format uri: the filesystem backend gives a host-relative path.
    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "The cleaned original; null until the asset is ready.",
        }
    )
    def get_url(self, asset: MediaAsset) -> str | None:
        return asset_url(asset)

    @extend_schema_field(ThumbnailsOutput)
    def get_thumbnails(self, asset: MediaAsset) -> dict[str, Any]:
        return asset_thumbnail_urls(asset)


class MediaUploadInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="JPEG, PNG, WebP or GIF; at most MEDIA_MAX_BYTES (10 MB) and MEDIA_MAX_PIXELS "
        "(25 megapixels) by default."
    )


class MediaFromUrlInput(serializers.Serializer):
    url = serializers.CharField(max_length=2048, help_text="An https URL on a public host.")


class MediaPresignInput(serializers.Serializer):
    content_type = serializers.ChoiceField(choices=sorted(ACCEPTED_CONTENT_TYPES))


class PresignedUploadOutput(serializers.Serializer):
    url = serializers.URLField(help_text="POST the form here (multipart), `file` last.")
    # A declared field is popped off the class by DRF's metaclass: Serializer.fields stays as
    # it is. The stubs cannot model that.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="Form fields to send before `file`."
    )


class MediaPresignOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    upload = PresignedUploadOutput()
    max_bytes = serializers.IntegerField()
    expires_in = serializers.IntegerField(help_text="Seconds the presigned form stays valid.")
