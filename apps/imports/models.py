from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class ImportJob(BaseModel):
    """A seller's file import, run by a worker. The row is the durable record: the uploaded file,
    the state and the outcome live here, so a job whose enqueue was lost or whose worker died
    is found and run again by the sweep (an import is all or nothing, so a rerun is safe)."""

    class Kind(models.TextChoices):
        PRODUCTS = "products", "Products with variants"
        STOCK = "stock", "Stock levels"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(max_length=8, choices=Format.choices)
    file_name = models.CharField(max_length=255, blank=True)
    source = models.BinaryField()  # the uploaded file, at most IMPORT_MAX_BYTES
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{row, column, detail}]
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["status", "updated_at"], name="importjob_status_updated")]

    def __str__(self) -> str:
        return f"{self.kind} import {self.file_name or self.pk}"
