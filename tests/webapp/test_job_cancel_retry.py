"""One cancel and one retry path for every job kind: the generic job endpoints, the admin action and the
footage panel all end in the same services, which also do what the job's kind needs (an ingest's video is
marked failed when its queued analysis is cancelled, and processing again when it is retried)."""

from __future__ import annotations

from typing import Any

import pytest
from media_samples import ready_video

pytestmark = pytest.mark.django_db

INGEST_TASK = "webapp.footage.tasks.ingest_task"


def queued_ingest(case: Any) -> tuple[Any, Any]:
    from webapp.footage.models import VideoStatus
    from webapp.jobs.models import Job, JobKind

    video = ready_video(case)
    video.status = VideoStatus.PROCESSING
    video.save(update_fields=["status"])
    job = Job.objects.create(case=case, kind=JobKind.INGEST, video=video, params={"task": INGEST_TASK})
    return video, job


def test_generic_cancel_of_a_queued_ingest_fails_its_video(case: Any, client: Any) -> None:
    from webapp.footage.models import VideoStatus
    from webapp.jobs.models import JobStatus

    video, job = queued_ingest(case)
    client.force_login(case.owner)
    response = client.post(f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == JobStatus.CANCELLED
    video.refresh_from_db()
    # Not "processing" forever: the page shows why and offers Retry.
    assert video.status == VideoStatus.FAILED and "cancelled" in video.error.lower()


def test_generic_retry_of_an_ingest_sets_its_video_processing_again(case: Any, client: Any) -> None:
    from webapp.footage.models import VideoStatus
    from webapp.jobs.models import JobStatus

    video, job = queued_ingest(case)
    # As a failed analysis leaves them.
    job.status, job.error = JobStatus.FAILED, "cam.mp4: the decoder gave up"
    job.save(update_fields=["status", "error"])
    video.status, video.error = VideoStatus.FAILED, job.error
    video.save(update_fields=["status", "error"])
    client.force_login(case.owner)
    response = client.post(f"/jobs/{job.pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] == JobStatus.QUEUED
    video.refresh_from_db()
    assert video.status == VideoStatus.PROCESSING and video.error == ""


def test_admin_cancel_of_a_queued_ingest_fails_its_video(case: Any, admin_client: Any) -> None:
    from webapp.footage.models import VideoStatus

    video, job = queued_ingest(case)
    response = admin_client.post(
        "/admin/jobs/job/", {"action": "cancel", "_selected_action": [job.pk]}, follow=True
    )
    assert response.status_code == 200
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED and "cancelled" in video.error.lower()


def test_the_footage_panel_cancels_through_the_generic_endpoint() -> None:
    from django.urls import NoReverseMatch, reverse
    from live_services import REPO

    source = (REPO / "frontend" / "src" / "upload.js").read_text()
    assert "/jobs/${job.job}/cancel/" in source and "/cases/${this.caseId}/jobs/" not in source
    with pytest.raises(NoReverseMatch):
        reverse("footage:cancel", args=[1, 1])
