"""Celery tasks of the search app: one-line wrappers around the job runner and the search services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.jobs import services as jobs
from webapp.search import services


@shared_task(bind=True, name=services.SEARCH_TASK)
def run_search(self: Task, job_id: int) -> None:
    jobs.run(
        job_id=job_id,
        work=services.search_work,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=services.SEARCH_WEIGHTS,
    )


@shared_task(bind=True, name=services.CLIP_TASK)
def make_clip(self: Task, job_id: int) -> None:
    jobs.run(
        job_id=job_id,
        work=services.clip_work,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=services.CLIP_WEIGHTS,
    )
