"""Service rules that need the database but no worker: which running jobs count as left by a dead worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from webapp.cases.models import Case
from webapp.footage import services
from webapp.jobs.models import Job, JobKind, JobStatus

# Not transactional: the rows are never committed, so a live test worker that receives the re-sent messages
# finds no such job and does nothing.
pytestmark = pytest.mark.django_db


def test_running_jobs_of_a_restarted_or_silent_worker_are_requeued_with_a_new_task_id() -> None:
    from webapp.celery import app

    owner = User.objects.create_user("rita", password="pw-rita-1")
    case = Case.objects.create(title="Yard", owner=owner)

    def running(worker: str) -> Job:
        return Job.objects.create(
            case=case,
            kind=JobKind.INGEST,
            status=JobStatus.RUNNING,
            worker=worker,
            celery_task_id=f"old-{worker}",
        )

    mine, busy, silent = running("me@host"), running("other@host"), running("gone@host")
    Job.objects.filter(pk=silent.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    try:
        requeued = services.requeue_stale_jobs(worker="me@host", stale_after_s=600)
        assert sorted(requeued) == sorted([mine.pk, silent.pk])
        for job in (mine, silent):
            job.refresh_from_db()
            assert job.status == JobStatus.QUEUED and job.celery_task_id != f"old-{job.worker}"
            # The broker's old message for this job is now stale and will be dropped.
            assert not services.is_current_delivery(job_id=job.pk, task_id=f"old-{job.worker}")
            assert services.is_current_delivery(job_id=job.pk, task_id=job.celery_task_id)
        busy.refresh_from_db()
        assert busy.status == JobStatus.RUNNING  # another live worker's job is left alone
    finally:
        app.control.purge()  # the re-sent messages: no worker runs in this test
