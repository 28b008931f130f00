"""Thin media tasks: take ids, call one service. Both are safe to run twice."""

from datetime import timedelta
from uuid import UUID

from django.conf import settings

from apps.media.services import media_cleanup_orphans, media_process
from config.celery import RetryingTask, app


# RetryingTask retries with backoff then dead-letters; the service already turns bad images
# into `failed`, so what is retried is transient (StorageUnavailable, database hiccups).
@app.task(base=RetryingTask, name="media.process", queue="media")
def process_asset_task(asset_id: str) -> str | None:
    """Verify, clean and make the thumbnails of an accepted upload."""
    asset = media_process(asset_id=UUID(asset_id))
    return asset.status if asset is not None else None


@app.task(base=RetryingTask, name="media.cleanup_orphans", queue="media", max_retries=1)
def cleanup_orphans_task(hours: int | None = None) -> int:
    return media_cleanup_orphans(older_than=timedelta(hours=hours or settings.MEDIA_ORPHAN_HOURS))
