"""Celery tasks: one-line wrappers that hand the job to jobs.services.run."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.jobs import controls, selfcheck, services


@shared_task(bind=True, name=controls.SELFCHECK_TASK)
def selfcheck_task(self: Task, job_id: int) -> None:
    services.run(
        job_id=job_id,
        work=selfcheck.run_selfcheck,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=selfcheck.WEIGHTS,
    )
