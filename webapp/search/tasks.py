"""Celery tasks of the search app: one-line wrappers around the job runner and the search and clip work."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.jobs import services as jobs
from webapp.search import clips, services, work


@shared_task(bind=True, name=services.SEARCH_TASK)
def run_search(self: Task, job_id: int) -> None:
    jobs.run(
        job_id=job_id,
        work=work.search_work,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=work.SEARCH_WEIGHTS,
    )


@shared_task(bind=True, name=clips.CLIP_TASK)
def make_clip(self: Task, job_id: int) -> None:
    jobs.run(
        job_id=job_id,
        work=clips.clip_work,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=clips.CLIP_WEIGHTS,
    )
