"""Seller imports run by a worker: the job row holds the file and the outcome; the run is the
resource's all-or-nothing import (apps.catalog.resources, apps.inventory.resources).

`import_job_create` checks the file can be read (format, size, row count, a `sku` column) and
stores it with the job in one transaction; the worker task is enqueued after commit. A job is
claimed by one conditional update (queued → running), so two workers never run it twice at
once; `import_jobs_recover` (periodic) enqueues again a queued job whose enqueue was lost and
requeues a running job whose worker died (its transaction was rolled back, so nothing of it
stayed). Progress (rows read) is kept in the cache while a job runs: a lost cache only loses
the progress figure."""

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

import tablib
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.catalog.resources import ProductResource
from apps.core.errors import field_error
from apps.core.resources import ServiceResource, row_errors
from apps.imports.errors import ImportFileInvalid
from apps.imports.models import ImportJob
from apps.inventory.resources import StockResource
from apps.shops.models import Shop
from apps.users.models import User

logger = logging.getLogger(__name__)

RESOURCES: dict[str, Callable[..., ServiceResource]] = {
    ImportJob.Kind.PRODUCTS: ProductResource,
    ImportJob.Kind.STOCK: StockResource,
}
ERRORS_KEPT = 1000  # row errors stored on a job: enough to fix a file, bounded
MAX_ATTEMPTS = 3  # runs that crashed (not refused rows: those end the job) before giving up
_XLSX_MAGIC = b"PK\x03\x04"


def _invalid(detail: str) -> ImportFileInvalid:
    return ImportFileInvalid(detail, errors=[field_error("/file", "invalid", detail)])


def _format_of(file_name: str, data: bytes) -> str:
    if file_name.lower().endswith(".xlsx") or data.startswith(_XLSX_MAGIC):
        return ImportJob.Format.XLSX
    return ImportJob.Format.CSV


def import_dataset(*, format: str, data: bytes) -> tablib.Dataset:
    """The file's rows; ImportFileInvalid when it cannot be read or is not an import file."""
    try:
        if format == ImportJob.Format.XLSX:
            dataset = tablib.Dataset().load(data, format="xlsx")
        else:
            dataset = tablib.Dataset().load(data.decode("utf-8-sig"), format="csv")
    except Exception as exc:  # tablib and openpyxl raise many kinds on a damaged file
        raise _invalid(f"Not a readable {format.upper()} file.") from exc
    headers = [str(header).strip() for header in dataset.headers or []]
    if "sku" not in headers:
        raise _invalid("The first row must name the columns, and a `sku` column is required.")
    if not 0 < len(dataset) <= settings.IMPORT_MAX_ROWS:
        raise _invalid(
            f"A file holds 1 to {settings.IMPORT_MAX_ROWS:,} rows; this one {len(dataset):,}."
        )
    dataset.headers = headers
    return dataset


def import_job_create(
    *, actor: User, shop: Shop, kind: str, file_name: str, data: bytes, dry_run: bool = False
) -> ImportJob:
    """Store the file as a queued job and enqueue its run after commit. Raises ImportFileInvalid
    (too large, unreadable, no `sku` column, no rows or too many)."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise _invalid(f"Files may be {settings.IMPORT_MAX_BYTES:,} bytes at most.")
    format = _format_of(file_name, data)
    dataset = import_dataset(format=format, data=data)
    with transaction.atomic():
        job = ImportJob.objects.create(
            shop=shop,
            created_by=actor,
            kind=kind,
            format=format,
            file_name=file_name[:255],
            source=data,
            dry_run=dry_run,
            rows_total=len(dataset),
        )
        transaction.on_commit(partial(_enqueue, job.pk))
    return job


def _enqueue(job_id: UUID) -> None:
    from apps.imports.tasks import import_run_task  # the task calls this module

    try:
        import_run_task.delay(str(job_id))
    except Exception:  # the broker is down: the job stays queued and the sweep enqueues it
        if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            raise
        logger.warning("import job %s not enqueued; the sweep will", job_id, exc_info=True)


def _progress_key(job_id: Any) -> str:
    return f"imports:progress:{job_id}"


def _progress_set(job_id: UUID, rows: int) -> None:
    # Redis down: the cache drops it, and only the progress figure is lost.
    cache.set(_progress_key(job_id), rows, timeout=settings.IMPORT_TIME_LIMIT_SECONDS)


def import_job_progress(job: ImportJob) -> int:
    """Rows read so far: all of them once the job is done, the cached figure while it runs."""
    if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
        return job.rows_total
    if job.status == ImportJob.Status.QUEUED:
        return 0
    return int(cache.get(_progress_key(job.pk)) or 0)


def import_job_run(*, job_id: UUID) -> ImportJob | None:
    """Run a queued job: claim it, import all or nothing (or only check it, for a dry run),
    record the counts and the row errors. None when the job is not queued (another worker has
    it, or it is done): running it twice is never needed."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("shop", "created_by").get(pk=job_id)
    try:
        dataset = import_dataset(format=job.format, data=bytes(job.source))
        resource = RESOURCES[job.kind](
            actor=job.created_by, shop=job.shop, progress=partial(_progress_set, job.pk)
        )
        result = resource.import_data(dataset, dry_run=job.dry_run)
        problems = row_errors(result, limit=ERRORS_KEPT)
        totals = result.totals
        outcome: dict[str, Any] = {
            "rows_new": totals["new"],
            "rows_updated": totals["update"],
            "rows_skipped": totals["skip"],
            "rows_invalid": totals["invalid"] + totals["error"],
            "errors": problems,
        }
        failed = bool(problems)
    except ImportFileInvalid as exc:
        outcome, failed = {"errors": [{"row": 0, "column": None, "detail": exc.detail}]}, True
    except Exception:
        # A crash (the database went away, a bug): the import's transaction was rolled back, so
        # the job is queued again for the task's retry or the sweep, up to MAX_ATTEMPTS runs.
        _requeue_or_give_up(job)
        raise
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED if failed else ImportJob.Status.SUCCEEDED,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
        **outcome,
    )
    job.refresh_from_db()
    return job


def _requeue_or_give_up(job: ImportJob) -> bool:
    """A running job that crashed or whose worker died: queued again (True), or failed once it
    has had MAX_ATTEMPTS runs."""
    now = timezone.now()
    running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)
    if job.attempts >= MAX_ATTEMPTS:
        running.update(
            status=ImportJob.Status.FAILED,
            finished_at=now,
            updated_at=now,
            errors=[{"row": 0, "column": None, "detail": "The import could not run; try again."}],
        )
        return False
    return bool(running.update(status=ImportJob.Status.QUEUED, updated_at=now))


def import_jobs_recover() -> int:
    """Enqueue again the jobs nobody runs: queued for longer than IMPORT_RECOVER_SECONDS (the
    enqueue was lost), or running for longer than the task's time limit (the worker died; its
    transaction was rolled back). Returns how many were enqueued."""
    now = timezone.now()
    dead = now - timedelta(seconds=settings.IMPORT_TIME_LIMIT_SECONDS + 60)
    lost = now - timedelta(seconds=settings.IMPORT_RECOVER_SECONDS)
    died = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, started_at__lt=dead)
    requeued = [job for job in died.only("pk", "attempts")[:100] if _requeue_or_give_up(job)]
    lost_jobs = ImportJob.objects.filter(status=ImportJob.Status.QUEUED, updated_at__lt=lost)
    lost_ids = list(lost_jobs.values_list("pk", flat=True)[:500])
    jobs = ImportJob.objects.filter(pk__in=[*(job.pk for job in requeued), *lost_ids])
    job_ids = list(jobs.order_by("created_at").values_list("pk", flat=True))  # oldest first
    # Dated now: the next sweep leaves them alone until they are lost again.
    jobs.update(updated_at=now)
    for job_id in job_ids:
        _enqueue(job_id)
    return len(job_ids)
