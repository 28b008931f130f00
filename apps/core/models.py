import uuid

from django.db import models
from django.utils import timezone


class BaseModel(models.Model):
    """UUID primary key and timestamps for every domain table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """A POST made with an `Idempotency-Key`: the caller and key (hashed into `scope`), the
    request's fingerprint and, once it ran, the response to replay.

    The row is inserted at the start of the request's transaction and committed with the work
    (`apps.core.idempotency`): a concurrent duplicate waits on its unique index until the first
    commits (and replays it) or rolls back (and runs itself); a crashed process's claim vanishes
    with its transaction."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope = models.CharField(max_length=64, unique=True)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.status or 'running'} {self.scope[:12]}"
