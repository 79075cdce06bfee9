"""Celery beat, as scripts/start.sh and the compose file run it, sends the periodic sweep that takes back jobs
of a worker that died and never came back; the real worker runs them to the end."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from tests.live_services import Service


def test_the_schedule_always_has_the_sweep_and_retention_only_when_set() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["sweep-stale-jobs"]["task"] == "webapp.footage.tasks.sweep_stale_jobs"
    assert ("retention" in schedule) == (settings.SIGHTLINE_RETENTION_DAYS > 0)
    from webapp.celery import app

    # Maintenance goes to the quick queue, never behind hours of analysis.
    for task in ("webapp.footage.tasks.sweep_stale_jobs", "webapp.cases.tasks.apply_retention"):
        assert app.amqp.router.route({}, task)["queue"].name == "search"


@pytest.mark.django_db(transaction=True)
def test_beat_sweep_resends_a_dead_workers_job_and_the_worker_finishes_it(
    live_stack: dict[str, Any], case: Any, tmp_path: Path
) -> None:
    from webapp.jobs.models import Job, JobKind, JobStatus

    # An analysis job left 'running' by a worker that died an hour ago and never restarted. The re-sent
    # task is the system check, so the test needs no footage; the sweep only looks at kind and age.
    job = Job.objects.create(
        case=case,
        kind=JobKind.INGEST,
        status=JobStatus.RUNNING,
        worker="gone@testhost",
        celery_task_id="lost-with-its-worker",
        params={"task": "webapp.jobs.tasks.selfcheck"},
    )
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    env = {**live_stack["env"], "SIGHTLINE_SWEEP_INTERVAL_S": "1"}
    args = [sys.executable, "-m", "celery", "-A", "webapp", "beat", "--loglevel", "INFO"]
    beat = Service("beat", [*args, "--schedule", str(tmp_path / "schedule")], env, tmp_path / "beat.log")
    beat.start()
    try:
        beat.wait_log(r"Sending due task sweep-stale-jobs", timeout=60)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in (JobStatus.DONE, JobStatus.FAILED):
                break
            time.sleep(0.3)
        assert job.status == JobStatus.DONE, (job.status, job.error, beat.log())
        assert job.worker == "stack@testhost" and job.celery_task_id != "lost-with-its-worker"
        assert f"re-queued ingest job {job.pk} " in live_stack["worker"].log(200_000)
    finally:
        beat.stop()
