"""An analysis that fails says which file failed, by the name it was uploaded under, on the video (the page)
and in the job's error (the jobs list, the websocket event), and never shows the server's storage path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

pytestmark = pytest.mark.django_db

NAME = "Lobby east 2024-05-01.mp4"


def failed_ingest(case: Any, original: bytes | None) -> tuple[Any, Any]:
    from webapp.footage import ingest
    from webapp.footage.models import Video, VideoStatus
    from webapp.jobs import services as jobs
    from webapp.jobs.models import Job, JobKind, JobStatus

    video = Video.objects.create(case=case, original_name=NAME, status=VideoStatus.PROCESSING)
    video.original.save("original.mp4", ContentFile(original or b""), save=True)
    if original is None:
        Path(video.original.path).unlink()
    job = Job.objects.create(case=case, kind=JobKind.INGEST, video=video)
    jobs.run(job_id=job.pk, work=ingest.ingest_work)  # what the Celery task runs
    job.refresh_from_db()
    video.refresh_from_db()
    assert job.status == JobStatus.FAILED and video.status == VideoStatus.FAILED
    return job, video


@pytest.mark.parametrize(
    "original",
    [b"minutes of the meeting, not a video\n" * 20, None],
    ids=["not-a-video", "original-missing"],
)
def test_failed_analysis_names_the_uploaded_file(case: Any, original: bytes | None) -> None:
    job, video = failed_ingest(case, original)
    for message in (job.error, video.error):
        assert message.startswith(f"{NAME}: "), message
        assert str(settings.MEDIA_ROOT) not in message and "original.mp4" not in message, message
        assert message.count(NAME) == 1, message
