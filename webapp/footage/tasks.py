"""Celery tasks of the footage app: thin wrappers over services."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task, signals
from django.conf import settings

from webapp.footage import ingest, retention, services
from webapp.jobs import services as jobs


@shared_task(bind=True, name=services.INGEST_TASK)
def ingest_video(self: Task, job_id: int) -> None:
    if not services.is_current_delivery(job_id=job_id, task_id=self.request.id or ""):
        return  # an old message of a job that was re-sent after its worker died
    jobs.run(
        job_id=job_id,
        work=ingest.ingest_work,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=ingest.INGEST_WEIGHTS,
    )


@shared_task(name="webapp.footage.tasks.sweep_stale_jobs")
def sweep_stale_jobs() -> list[int]:
    """Sent by Celery beat every SIGHTLINE_SWEEP_INTERVAL_S: jobs of workers that died and never came back."""
    requeued = services.requeue_stale_jobs()
    services.upload_store().expire()
    return requeued


# Named as when retention lived in the cases app: beat schedules and queue routes name it so.
@shared_task(name="webapp.cases.tasks.apply_retention")
def apply_retention_task() -> int:
    """Run by Celery beat daily when SIGHTLINE_RETENTION_DAYS is set (see settings.CELERY_BEAT_SCHEDULE)."""
    days = int(settings.SIGHTLINE_RETENTION_DAYS)
    return retention.apply_retention(days=days).videos if days > 0 else 0


@signals.worker_ready.connect
def _recover_after_restart(sender: Any = None, **_: Any) -> None:
    # A worker starting under the name of one that died mid-job takes its jobs back at once; jobs of other
    # dead workers go once their row is older than services.STALE_AFTER_S. Abandoned uploads expire here
    # too (and whenever a new upload starts).
    services.requeue_stale_jobs(worker=getattr(sender, "hostname", None))
    services.upload_store().expire()
