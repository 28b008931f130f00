"""Thin import tasks: take ids, call one service."""

from uuid import UUID

from django.conf import settings

from apps.imports.services import import_job_run, import_jobs_recover
from config.celery import RetryingTask, app


# A large file takes longer than the default limits: the job's own limit, and no retry of a
# job that ran out of time (the sweep requeues it once the limit has passed).
@app.task(
    base=RetryingTask,
    name="imports.run",
    max_retries=2,
    soft_time_limit=settings.IMPORT_TIME_LIMIT_SECONDS - 30,
    time_limit=settings.IMPORT_TIME_LIMIT_SECONDS,
)
def import_run_task(job_id: str) -> str | None:
    job = import_job_run(job_id=UUID(job_id))
    return job.status if job is not None else None


@app.task(base=RetryingTask, name="imports.recover", max_retries=1)
def import_recover_task() -> int:
    return import_jobs_recover()
