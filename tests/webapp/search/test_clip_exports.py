"""Evidence clips and the readable exports, on real files, without a worker.

- cut_clip seeks: on a 4-minute H.264 file with B-frames (PETS repeated, keyframe every 3 s) and on the PETS
  AVI itself (MS-MPEG4, a keyframe every 25 s), a clip cut after a seek holds exactly the frames and
  timestamps a decode from the first frame gives (byte-identical clip files), and decoding starts at the
  keyframe before the moment instead of the first frame.
- The export job's service: it cuts the clip and keeps its sha256; the same moment asked for again (from
  another query too) is answered by the finished job without cutting; a changed file is cut again;
  a missing original and a moment without frames end the job with a sentence.
- The download: permission-checked streaming with Range, the sha256 checked again, one audit event.
- Wall-clock times read "2026-03-14 08:00:00.2 UTC" in the report and the CSV; JSON keeps ISO 8601.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
import search_pets
from django.conf import settings
from django.test import Client
from long_video import hit_on, long_pets, new_query
from media_samples import results_fixture

from webapp.audit.models import AuditEvent
from webapp.footage.models import video_dir
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind, JobStatus
from webapp.search import clip_cut, clips, exports
from webapp.search.models import Hit

EPS = 1e-6


@pytest.fixture(scope="session")
def long_file(pytestconfig: pytest.Config, shared_dir: Path) -> Path:
    """238.5 s: three copies of PETS, 384x288 H.264, a keyframe every 30 frames (3 s), B-frames."""
    if not search_pets.pets_clip().exists():
        pytest.fail(f"the PETS clip is missing at {search_pets.pets_clip()}: set SIGHTLINE_SHARED_DIR")
    return long_pets(pytestconfig.cache.mkdir("sightline-long-video"), copies=3, height=288, gop=30)


def display_order(path: Path) -> list[tuple[Fraction, bool]]:
    """(time, keyframe) of every frame, decoded from the first one."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(f.pts * stream.time_base, f.key_frame) for f in container.decode(stream)]


def clip_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.pts * stream.time_base for f in container.decode(stream)]


def check_seek_cut(source: Path, folder: Path, start: float, end: float, gop_s: float) -> None:
    frames = display_order(source)
    wanted = [t for t, _ in frames if start - EPS <= t <= end + EPS]
    sought = clip_cut.cut_clip(source, folder / "sought.mp4", start, end)
    decoded = clip_cut.cut_clip(source, folder / "decoded.mp4", start, end, seek=False)
    assert sought.frames == decoded.frames == len(wanted) > 0, (start, end)
    # The same frames in, the same encoder: the same bytes.
    assert sought.sha256 == decoded.sha256 == clip_cut.sha256_file(sought.path), (start, end)
    assert clip_times(sought.path) == wanted, (start, end)  # the original's own timestamps
    # Decoding began at the keyframe at or before the moment, not at the first frame, and went on no
    # further than the moment's end.
    sequence = clip_cut._decoded_from(source, start)
    index, first = next(sequence)
    assert first.key_frame and (index is None) == (start > 0)
    assert first.pts * first.time_base == max(t for t, key in frames if key and t <= start + EPS)
    count = 1
    for _, frame in sequence:
        if frame.pts * frame.time_base > end + EPS:
            break
        count += 1
    sequence.close()
    assert count <= len(wanted) + round(gop_s * 10), "decoded more than a keyframe interval before the moment"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (230.05, 238.5),  # near the end, to the last frame
        (159.0, 165.0),  # where the second copy ends and the third begins
        (120.0, 120.0),  # one frame
        (81.23, 90.0),  # a start between two frames
        (0.0, 4.0),  # at the first frame: nothing to seek
    ],
)
def test_a_cut_after_a_seek_is_the_cut_from_the_first_frame(
    long_file: Path, tmp_path: Path, start: float, end: float
) -> None:
    check_seek_cut(long_file, tmp_path, start, end, gop_s=3.5)


@pytest.mark.parametrize(("start", "end"), [(60.0, 70.0), (50.0, 52.0), (77.7, 79.4)])
def test_the_pets_avi_seeks_to_its_sparse_keyframes(
    shared_dir: Path, tmp_path: Path, start: float, end: float
) -> None:
    check_seek_cut(search_pets.pets_clip(), tmp_path, start, end, gop_s=25.0)


def test_a_moment_without_frames_is_refused(long_file: Path, tmp_path: Path) -> None:
    with pytest.raises(clip_cut.ExportError, match="No frame of the original falls in this moment"):
        clip_cut.cut_clip(long_file, tmp_path / "none.mp4", 300.0, 310.0)
    assert list(tmp_path.iterdir()) == []  # no file, no leftover part


# --- the export job's service ------------------------------------------------------------------------------


def run_job(job: Job) -> Job:
    """What the Celery task does, in this process."""
    done = jobs.run(job_id=job.pk, work=clips.clip_work, weights=clips.CLIP_WEIGHTS)
    assert done is not None
    return done


@pytest.mark.django_db
def test_the_export_job_cuts_once_and_reuses_an_unchanged_clip(case: Any, long_file: Path) -> None:
    hit = hit_on(case, long_file, 200.0, 210.0)
    job = clips.request_clip(hit=hit, user=case.owner)
    assert (job.kind, job.status, job.video_id) == (JobKind.EXPORT, JobStatus.QUEUED, hit.track.video_id)
    started = AuditEvent.objects.get(action="job.start")
    assert started.details["kind"] == "export" and started.details["hit"] == hit.pk
    assert clips.request_clip(hit=hit, user=case.owner).pk == job.pk  # a second click while queued

    job = run_job(job)
    assert job.status == JobStatus.DONE, job.error
    assert job.timings.keys() == {"cut"} and job.progress == 1.0
    result = job.params["result"]
    path = Path(settings.MEDIA_ROOT) / result["path"]
    assert path.parent.name == "exports" and path.is_file()
    assert result["sha256"] == clip_cut.sha256_file(path) and result["frames"] == 101
    assert clip_times(path) == [Fraction(2000 + i, 10) for i in range(101)]
    made_at = path.stat().st_mtime_ns

    # The same moment again, from this hit and from another query's hit on the same track: no new cut.
    again = clips.request_clip(hit=hit, user=case.owner)
    other = Hit.objects.create(
        query=new_query(case), track=hit.track, score=0.7, rank=3, start_s=200.0, end_s=210.0
    )
    assert again.pk == clips.request_clip(hit=other, user=case.owner).pk == job.pk
    assert Job.objects.filter(kind=JobKind.EXPORT).count() == 1 and path.stat().st_mtime_ns == made_at
    assert AuditEvent.objects.filter(action="job.start").count() == 1

    # A file that changed since is not handed out again: the moment is cut anew.
    with open(path, "ab") as fh:
        fh.write(b"\0")
    fresh = clips.request_clip(hit=hit, user=case.owner)
    assert fresh.pk != job.pk and fresh.status == JobStatus.QUEUED
    fresh = run_job(fresh)
    assert fresh.status == JobStatus.DONE and fresh.params["result"]["sha256"] == result["sha256"]

    # Deleting the video (by hand or by retention) deletes its clips with it.
    from webapp.footage import services as footage

    footage.delete_video(video=hit.track.video, user=case.owner)
    assert not path.exists() and not path.parent.exists()


@pytest.mark.django_db
def test_failures_end_the_job_with_a_sentence(case: Any, long_file: Path) -> None:
    beyond = hit_on(case, long_file, 300.0, 305.0)
    job = run_job(clips.request_clip(hit=beyond, user=case.owner))
    assert job.status == JobStatus.FAILED
    assert job.error == "No frame of the original falls in this moment; the clip was not made."

    hit = hit_on(case, long_file, 10.0, 12.0)
    Path(hit.track.video.original.path).unlink()
    job = run_job(clips.request_clip(hit=hit, user=case.owner))
    assert job.status == JobStatus.FAILED
    assert job.error == "The original video is missing from the media store; the clip cannot be made."
    exports_dir = Path(settings.MEDIA_ROOT) / video_dir(hit.track.video) / "exports"
    assert not exports_dir.exists() or list(exports_dir.iterdir()) == []


def streamed(response: Any) -> bytes:
    """The body of a media response: an async iterator, as daphne sends it."""
    import asyncio

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return asyncio.run(collect())


@pytest.mark.django_db
def test_the_download_is_checked_streamed_and_audit_logged(case: Any, long_file: Path) -> None:
    hit = hit_on(case, long_file, 100.0, 103.0)
    client = Client()
    client.force_login(case.owner)
    asked = client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip")
    assert asked.status_code == 202 and asked.json()["ready"] is False
    run_job(Job.objects.get(pk=asked.json()["job"]["job"]))
    status = client.get(asked.json()["status_url"]).json()
    assert status["ready"] and status["job"]["status"] == "done" and status["frames"] == 31
    assert client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip").json() == status  # 200, the same clip

    response = client.get(status["file_url"])
    body = streamed(response)
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(body).hexdigest() == response["X-Content-SHA256"] == status["sha256"]
    part = client.get(status["file_url"], HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and streamed(part) == body[:100]
    logged = AuditEvent.objects.filter(action="search.export.clip").order_by("id")
    assert logged.count() == 2
    assert logged[0].details == {
        "hit": hit.pk,
        "sha256": status["sha256"],
        "video": hit.track.video_id,
        "video_sha256": hit.track.video.sha256,
        "start_s": 100.0,
        "end_s": 103.0,
        "frames": 31,
        "job": status["job"]["job"],
    }
    assert logged[0].target_type == "query" and logged[0].target_id == str(hit.query_id)

    stored = Job.objects.get(pk=status["job"]["job"]).params["result"]["path"]
    (Path(settings.MEDIA_ROOT) / stored).write_bytes(b"changed")
    refused = client.get(status["file_url"])
    assert refused.status_code == 409 and "sha256 differs" in refused.json()["error"]
    assert AuditEvent.objects.filter(action="search.export.clip").count() == 2


# --- readable wall-clock times ------------------------------------------------------------------------------


def test_wall_clock_text_is_utc_to_a_tenth_of_a_second() -> None:
    assert exports.wall_text("2026-03-14T08:00:00.200000+00:00") == "2026-03-14 08:00:00.2 UTC"
    assert exports.wall_text("2026-03-14T09:00:00.250000+01:00") == "2026-03-14 08:00:00.3 UTC"
    assert exports.wall_text("2026-03-14T23:59:59.960000+00:00") == "2026-03-15 00:00:00.0 UTC"
    assert exports.wall_text("2026-03-14T08:00:00+00:00") == "2026-03-14 08:00:00.0 UTC"
    assert exports.wall_text(None) == exports.wall_text("") == ""


@pytest.mark.django_db
def test_report_and_csv_read_wall_clock_times_json_keeps_iso(case: Any) -> None:
    from webapp.footage.models import Video

    query, hit = results_fixture(case)  # the hit runs from 0.2 s to 1.5 s into the video
    Video.objects.filter(pk=hit.track.video_id).update(
        recording_started_at=datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    )
    client = Client()
    client.force_login(case.owner)
    base = f"/cases/{case.pk}/search/queries/{query.pk}"
    rows = list(csv.DictReader(io.StringIO(client.get(f"{base}/hits.csv").content.decode())))
    assert (rows[0]["start_wall_clock"], rows[0]["end_wall_clock"]) == (
        "2026-03-14 08:00:00.2 UTC",
        "2026-03-14 08:00:01.5 UTC",
    )
    report = client.get(f"{base}/report").content.decode()
    assert "2026-03-14 08:00:00.2 UTC" in report  # the moment
    assert "2026-03-14 08:00:00.0 UTC" in report  # the video's recording start
    assert "+00:00" not in report
    doc = client.get(f"{base}/hits.json").json()
    assert doc["hits"][0]["start_wall"] == "2026-03-14T08:00:00.200000+00:00"
    assert doc["videos"][str(hit.track.video_id)]["recording_started_at"] == "2026-03-14T08:00:00+00:00"


@pytest.mark.parametrize("seek", [True, False])
def test_moment_times_count_from_the_streams_start_as_the_engine_does(tmp_path: Path, seek: bool) -> None:
    """MPEG-TS (as many recorders export) starts its timestamps well above zero; a moment the engine
    found at 3.0 to 4.0 s must be cut from the frames the engine saw there."""
    import subprocess

    import numpy as np

    from reid_core.video import iter_frames

    source = tmp_path / "camera.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "8",
         "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-output_ts_offset", "10", str(source)],
        check=True,
    )  # fmt: skip
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        assert float(stream.start_time * stream.time_base) > 10  # the point of the test
    engine_frames = {round(f.t, 3): f.image for f in iter_frames(source)}
    clip = clip_cut.cut_clip(source, tmp_path / "clip.mp4", 3.0, 4.0, seek=seek)
    assert clip.frames == 11
    with av.open(str(clip.path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24").astype(np.int16)
    # testsrc draws a moving pattern and a frame counter: the right frame differs only by encoding noise.
    diffs = {t: float(np.abs(first - img.astype(np.int16)).mean()) for t, img in engine_frames.items()}
    assert min(diffs, key=lambda t: diffs[t]) == 3.0, sorted(diffs.items(), key=lambda kv: kv[1])[:3]
