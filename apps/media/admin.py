from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.media.api.serializers import asset_thumbnail_urls, asset_url
from apps.media.models import MediaAsset
from apps.media.services import media_asset_delete


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    """Read-only: assets come from the API; deleting goes through the service (files too)."""

    list_display = (
        "id",
        "owner",
        "status",
        "backend",
        "content_type",
        "size",
        "width",
        "height",
        "created_at",
    )
    list_filter = ("status", "backend", "content_type", "created_at")
    search_fields = ("=id", "=sha256", "original_name", "owner__email", "storage_key")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "owner",
        "backend",
        "storage_key",
        "original_name",
        "source_url",
        "content_type",
        "size",
        "width",
        "height",
        "sha256",
        "status",
        "failure_reason",
        "thumbnails",
        "preview",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description="Preview")
    def preview(self, asset: MediaAsset) -> str:
        thumbnail = asset_thumbnail_urls(asset).get("small") or asset_url(asset)
        if not thumbnail:
            return "-"
        return format_html('<img src="{}" alt="" style="max-width:150px">', thumbnail)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: MediaAsset) -> None:
        media_asset_delete(asset=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MediaAsset]) -> None:
        for asset in queryset:
            media_asset_delete(asset=asset)
