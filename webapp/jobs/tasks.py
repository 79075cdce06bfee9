"""Celery tasks: one-line wrappers that hand the job to jobs.services.run."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.jobs import selfcheck, services


@shared_task(bind=True, name="webapp.jobs.tasks.selfcheck")
def selfcheck_task(self: Task, job_id: int) -> None:
    services.run(
        job_id=job_id,
        work=selfcheck.run_selfcheck,
        worker=self.request.hostname or "",
        task_id=self.request.id or "",
        weights=selfcheck.WEIGHTS,
    )
