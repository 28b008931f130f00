from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import BaseModel


class MediaAsset(BaseModel):
    """An uploaded image. The bytes live in a storage backend under a generated `storage_key`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending upload"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Backend(models.TextChoices):
        FILESYSTEM = "filesystem", "Filesystem"
        S3 = "s3", "S3"
        CLOUDINARY = "cloudinary", "Cloudinary"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_assets"
    )
    # The backend that holds this asset's bytes; an asset stays where it was stored even when
    # STORAGE_BACKEND changes later.
    backend = models.CharField(max_length=16, choices=Backend.choices)
    storage_key = models.CharField(max_length=255, unique=True)
    original_name = models.CharField(max_length=255, blank=True)
    source_url = models.URLField(max_length=2048, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    failure_reason = models.CharField(max_length=255, blank=True)
    # {"small": <storage key or, on Cloudinary, a transformation URL>, "medium": ...}
    thumbnails = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "ready", "failed"]),
                name="media_asset_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(backend__in=["filesystem", "s3", "cloudinary"]),
                name="media_asset_backend_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="media_status_created")]

    def __str__(self) -> str:
        return self.storage_key
