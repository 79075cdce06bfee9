"""Evidence clips through a real Celery worker process (the session's live stack) on PostgreSQL and Redis:
the export job's progress arrives over the case websocket, the file it made downloads with the sha256 the
page is given, a second request does not cut again, a cancel stops a long cut and leaves no file, and a
missing original ends the job with a sentence."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import search_pets
from django.conf import settings
from django.test import Client
from live_services import CaseSocket, session_cookie
from long_video import hit_on, long_pets

from webapp.audit.models import AuditEvent
from webapp.footage.models import video_dir
from webapp.jobs.models import Job, JobKind, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.slow]


@pytest.fixture(scope="session")
def long_file(pytestconfig: pytest.Config, shared_dir: Path) -> Path:
    if not search_pets.pets_clip().exists():
        pytest.fail(f"the PETS clip is missing at {search_pets.pets_clip()}: set SIGHTLINE_SHARED_DIR")
    return long_pets(pytestconfig.cache.mkdir("sightline-long-video"), copies=3, height=288, gop=30)


def owner_client(case: Any) -> Client:
    client = Client()
    client.force_login(case.owner)
    return client


def export_events(sock: CaseSocket, job_id: int, until: set[str]) -> list[dict[str, Any]]:
    seen = sock.events_until(
        lambda m: m.get("type") == "job" and m["job"] == job_id and m["status"] in until, timeout=120
    )
    return [m for m in seen if m.get("type") == "job" and m["job"] == job_id]


def test_a_clip_is_cut_on_the_worker_with_live_progress_and_downloads(
    live_stack: dict[str, Any], case: Any, long_file: Path
) -> None:
    hit = hit_on(case, long_file, 150.0, 236.0)  # 861 frames, late in the file
    sock = CaseSocket(live_stack["url"], case.pk, session_cookie(case.owner))
    try:
        assert sock.receive()["type"] == "hello"
        client = owner_client(case)
        asked = client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip")
        assert asked.status_code == 202, asked.content
        job_id = asked.json()["job"]["job"]
        events = export_events(sock, job_id, {"done", "failed", "cancelled"})
    finally:
        sock.close()
    assert events[-1]["status"] == "done", events[-1]
    assert all(e["kind"] == JobKind.EXPORT for e in events)
    cutting = [e for e in events if e["status"] == "running" and e["stage"] == "cut"]
    assert cutting and cutting[-1]["progress"] > 0 and cutting[-1]["total"] >= 861
    assert [e["progress"] for e in cutting] == sorted(e["progress"] for e in cutting)

    made = client.get(f"/cases/{case.pk}/search/clips/{job_id}/").json()
    assert made["ready"] and made["frames"] == 861
    download = client.get(made["file_url"])

    async def collect() -> bytes:
        return b"".join([part async for part in download.streaming_content])

    body = asyncio.run(collect())
    assert hashlib.sha256(body).hexdigest() == made["sha256"] == download["X-Content-SHA256"]
    assert AuditEvent.objects.get(action="search.export.clip").details["sha256"] == made["sha256"]

    again = client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip")
    assert again.status_code == 200 and again.json()["job"]["job"] == job_id
    assert Job.objects.filter(kind=JobKind.EXPORT).count() == 1


def wait_for(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not met after {timeout} s")


def test_cancel_stops_a_long_cut_and_a_missing_original_fails(
    live_stack: dict[str, Any], case: Any, long_file: Path
) -> None:
    hit = hit_on(case, long_file, 0.0, 238.5)  # the whole file: long enough to be caught running
    client = owner_client(case)
    job_id = client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip").json()["job"]["job"]
    wait_for(lambda: Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, done__gt=0).exists())
    cancelled = client.post(f"/jobs/{job_id}/cancel/")
    assert cancelled.status_code == 200
    job = wait_for(lambda: Job.objects.filter(pk=job_id, status=JobStatus.CANCELLED).first())
    assert 0 < job.done < 2385 and "result" not in job.params
    exports_dir = Path(settings.MEDIA_ROOT) / video_dir(hit.track.video) / "exports"
    assert not exports_dir.exists() or list(exports_dir.iterdir()) == []  # no clip, no part file

    gone = hit_on(case, long_file, 10.0, 20.0)
    Path(gone.track.video.original.path).unlink()
    job_id = client.post(f"/cases/{case.pk}/search/hits/{gone.pk}/clip").json()["job"]["job"]
    job = wait_for(lambda: Job.objects.filter(pk=job_id, status=JobStatus.FAILED).first())
    assert job.error == "The original video is missing from the media store; the clip cannot be made."
    answer = client.get(f"/cases/{case.pk}/search/clips/{job_id}/").json()
    assert answer["job"]["error"] == job.error and not answer["ready"] and answer["file_url"] is None
