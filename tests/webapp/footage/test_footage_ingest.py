"""Ingestion through the test session's real Celery worker process (tests/conftest.py live_stack) on
PostgreSQL and Redis, with the real models.

The worker is killed with SIGKILL in the middle of a job; the same worker started again takes the job back,
and the result holds each track and vector exactly once. Then deleting the video removes its files, rows and
vectors. Cancel stops a running job and leaves nothing; retry runs it again to the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from webapp.cases.models import Case
from webapp.footage import index_store, services
from webapp.footage.models import Snapshot, Track, Video, VideoStatus
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.slow]


def add_video(case: Case, clip: Path) -> Video:
    store = services.upload_store()
    info = store.create(
        case_id=case.pk, user_id=case.owner_id, length=clip.stat().st_size, metadata={"filename": clip.name}
    )
    store.append(info.id, offset=0, chunks=[clip.read_bytes()])
    return services.create_video_from_upload(
        user=case.owner, case=case, upload_id=info.id, camera_label="Depot gate"
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, worker: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.log()}" if worker else ""))


def restart(worker: Any) -> None:
    """Start the killed worker again under its name, as a supervisor (systemd, Docker) would."""
    ready_before = worker.log(tail=10_000_000).count(" ready.")
    worker.start()
    worker.wait_for(lambda: worker.log(tail=10_000_000).count(" ready.") > ready_before, 90, "ready again")


def test_killed_worker_job_restarts_cleanly_without_duplicates(
    case: Case, short_clip: Path, live_stack: dict[str, Any]
) -> None:
    first = second = live_stack["worker"]
    video = add_video(case, short_clip)
    job = Job.objects.get(video=video)

    def analysing() -> bool:
        job.refresh_from_db()
        return job.stage == "analyse" and job.done >= 40

    wait_for(analysing, 120, "the analysis to get going", first)
    first.kill()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # nobody is left to say otherwise
    assert job.attempts == 1

    restart(second)

    def finished() -> bool:
        job.refresh_from_db()
        return job.finished

    wait_for(finished, 300, "the re-queued job to finish", second)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2 and job.progress == 1.0
    video.refresh_from_db()
    assert video.status == VideoStatus.READY
    tracks = Track.objects.filter(video=video)
    snapshots = Snapshot.objects.filter(track__video=video)
    assert tracks.count() > 3
    assert snapshots.count() >= tracks.count()
    index, catalog = index_store.load_case_index(case.pk)
    assert index.videos() == {str(video.pk)} and set(catalog.videos) == {str(video.pk)}
    assert len(catalog.videos[str(video.pk)].tracks) == tracks.count()
    assert len(index) == snapshots.count()  # every vector once: the killed attempt's work was removed
    folder = Path(settings.MEDIA_ROOT) / f"cases/{case.pk}/videos/{video.pk}"
    assert (folder / "rendition.mp4").exists() and (folder / "poster.jpg").exists()
    crops = sorted(p.name for p in (folder / "crops").iterdir())
    assert len(crops) == tracks.count() + snapshots.count()
    assert not list(folder.glob(".*part"))  # no half-written rendition from the killed attempt

    services.delete_video(video=video, user=case.owner)
    assert not folder.exists()
    assert not Track.objects.filter(video_id=video.pk).exists()
    assert not Job.objects.filter(video_id=video.pk).exists()
    index, catalog = index_store.load_case_index(case.pk)
    assert len(index) == 0 and not catalog.videos


def test_cancel_stops_a_running_job_and_leaves_no_results(
    case: Case, short_clip: Path, live_stack: dict[str, Any]
) -> None:
    worker = live_stack["worker"]
    video = add_video(case, short_clip)
    job = Job.objects.get(video=video)

    def analysing() -> bool:
        job.refresh_from_db()
        return job.stage == "analyse" and job.done >= 20

    wait_for(analysing, 120, "the analysis to get going", worker)
    jobs.request_cancel(job_id=job.pk, actor=case.owner)

    def stopped() -> bool:
        job.refresh_from_db()
        return job.finished

    wait_for(stopped, 60, "the job to stop", worker)
    assert job.status == JobStatus.CANCELLED
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED and "cancelled" in video.error
    assert not Track.objects.filter(video=video).exists()
    # Retry runs it again from scratch, to the end.
    services.retry_ingest(video=video)
    wait_for(stopped, 120, "the retried job", worker)
    assert job.status == JobStatus.DONE, job.error
    assert Track.objects.filter(video=video).exists()
