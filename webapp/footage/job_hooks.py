"""What cancelling and retrying an ingest job does to its video (registered with the jobs app on start, so
that every cancel and retry path, whichever page or admin action asks, does it)."""

from __future__ import annotations

from webapp.footage.models import Video, VideoStatus
from webapp.jobs.models import Job

CANCELLED_MESSAGE = "Analysis was cancelled. Retry to analyse this video."


def ingest_cancelled(job: Job) -> None:
    if job.video_id is not None:
        Video.objects.filter(pk=job.video_id).update(status=VideoStatus.FAILED, error=CANCELLED_MESSAGE)


def ingest_retried(job: Job) -> None:
    if job.video_id is not None:
        Video.objects.filter(pk=job.video_id).update(status=VideoStatus.PROCESSING, error="")
