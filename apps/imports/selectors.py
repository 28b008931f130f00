from uuid import UUID

from apps.imports.errors import ImportJobNotFound
from apps.imports.models import ImportJob
from apps.imports.services import import_job_progress
from apps.users.models import User


def seller_import_job(*, user: User, job_id: UUID) -> ImportJob:
    """One of the caller's shop's import jobs, with `rows_processed` set (the file itself is
    not loaded); another shop's is ImportJobNotFound."""
    job = ImportJob.objects.defer("source").filter(pk=job_id, shop__owner_id=user.pk).first()
    if job is None:
        raise ImportJobNotFound("No such import.")
    job.rows_processed = import_job_progress(job)  # type: ignore[attr-defined]
    return job
