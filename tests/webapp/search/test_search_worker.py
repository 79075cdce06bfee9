"""Searches through a real Celery worker process (the session's live stack) on PostgreSQL and Redis, with
the real models on the PETS clip: the person of the query photo comes first, several people ask for a choice,
no person says so, refining uses the feedback, and the job's events arrive over the case websocket."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import search_pets

from webapp.jobs.models import Job, JobStatus
from webapp.search import feedback, services
from webapp.search.models import Hit, Query, Verdict

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.slow]


async def collect(response: Any) -> bytes:
    return b"".join([part async for part in response.streaming_content])


def wait_job(job: Job, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"search job {job.pk} still {job.status} after {timeout} s")


def run(case: Any, photo: Path, **kw: Any) -> tuple[Query, Job]:
    query, job = services.start_search(user=case.owner, case=case, photo=photo.read_bytes(), **kw)
    return query, wait_job(job)


def test_the_person_in_the_photo_ranks_first(
    pets_video: Any, photos: dict[str, Path], live_stack: Any
) -> None:
    query, job = run(pets_video.case, photos["person"])
    assert job.status == JobStatus.DONE, job.error
    hits = list(Hit.objects.filter(query=query).select_related("track").order_by("rank"))
    assert len(hits) >= 10
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    gt = search_pets.gt_boxes(search_pets.largest_query().gt_id)
    assert search_pets.track_matches(hits[0].track.boxes, gt) >= 0.5, "the top hit is not the query's person"
    query.refresh_from_db()
    assert query.params["outcome"] == "results" and query.last_run_at is not None
    assert job.timings.keys() >= {"detect", "search", "store"}


def test_several_people_ask_which_one(pets_video: Any, photos: dict[str, Path], live_stack: Any) -> None:
    query, job = run(pets_video.case, photos["scene"])
    assert job.status == JobStatus.DONE, job.error
    query.refresh_from_db()
    assert query.params["outcome"] == "choose_person"
    assert len(query.params["candidates"]) >= 3
    assert not query.hits.exists()
    # Picking one runs the search for that person.
    chosen = query.params["candidates"][0]["box"]
    job = wait_job(services.choose_person(query=query, user=pets_video.case.owner, box=chosen))
    assert job.status == JobStatus.DONE, job.error
    query.refresh_from_db()
    assert query.params["box"] == chosen and query.params["outcome"] == "results"
    assert query.hits.count() >= 5


def test_no_person_says_so_and_a_drawn_box_searches(
    pets_video: Any, photos: dict[str, Path], live_stack: Any
) -> None:
    query, job = run(pets_video.case, photos["empty"])
    assert job.status == JobStatus.FAILED
    assert "No person was found" in job.error and "Draw a box" in job.error
    query.refresh_from_db()
    assert query.params["outcome"] == "no_person" and query.params["candidates"] == []
    job = wait_job(services.choose_person(query=query, user=pets_video.case.owner, box=[20, 10, 60, 120]))
    assert job.status == JobStatus.DONE, job.error
    assert query.hits.exists()


def test_refine_drops_rejected_and_keeps_confirmed(
    pets_video: Any, photos: dict[str, Path], live_stack: Any
) -> None:
    case = pets_video.case
    query, job = run(case, photos["person"])
    hits = list(query.hits.select_related("track").order_by("rank"))
    top, wrong = hits[0], hits[1]
    feedback.set_verdict(hit=top, user=case.owner, verdict=Verdict.CONFIRMED)
    feedback.set_verdict(hit=wrong, user=case.owner, verdict=Verdict.REJECTED)
    refined, job = feedback.refine_query(query=query, user=case.owner)
    assert wait_job(job).status == JobStatus.DONE, job.error
    assert refined.refined_from_id == query.pk
    new = {(h.track.video_id, h.track.track_id): h for h in refined.hits.select_related("track")}
    assert (wrong.track.video_id, wrong.track.track_id) not in new
    kept = new[(top.track.video_id, top.track.track_id)]
    assert kept.verdict == Verdict.CONFIRMED and kept.rank == 1
    # The original query keeps its own results and feedback.
    assert query.hits.filter(verdict=Verdict.REJECTED).count() == 1
    from webapp.audit.models import AuditEvent

    actions = set(AuditEvent.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert {"search.start", "search.hit.confirmed", "search.hit.rejected", "search.refine"} <= actions


def test_results_document_and_exports(pets_video: Any, photos: dict[str, Path], live_stack: Any) -> None:
    import csv
    import hashlib
    import io
    from datetime import UTC, datetime

    from django.test import Client

    from webapp.audit.models import AuditEvent
    from webapp.footage.models import Video

    case = pets_video.case
    Video.objects.filter(pk=pets_video.pk).update(recording_started_at=datetime(2009, 3, 1, 9, 0, tzinfo=UTC))
    query, _ = run(case, photos["person"])
    feedback.set_verdict(hit=query.hits.get(rank=1), user=case.owner, verdict=Verdict.CONFIRMED)
    client = Client()
    client.force_login(case.owner)
    doc = client.get(f"/cases/{case.pk}/search/queries/{query.pk}/").json()
    assert doc["query"]["state"] == "results" and doc["query"]["photo_sha256"] == query.photo_sha256
    assert doc["models"]["label"] and "appearance_only" in doc["models"]
    top = doc["hits"][0]
    assert top["rank"] == 1 and top["verdict"] == "confirmed"
    assert top["words"] in {
        "Likely the same person",
        "Looks similar",
        "Looks somewhat similar",
        "Looks different",
    }
    assert top["frames"] == len(top["boxes"]) > 5
    assert top["start_s"] == top["boxes"][0][0] and top["end_s"] == top["boxes"][-1][0]
    assert top["start_wall"].startswith("2009-03-01T09:0")
    video = doc["videos"][str(pets_video.pk)]
    assert (
        video["stream_url"] and video["sha256"] == pets_video.sha256 and video["label"] == "PETS 2009 view 1"
    )
    thumb = client.get(top["thumb_url"])
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"

    report = client.get(doc["query"]["urls"]["report"]).content.decode()
    assert query.photo_sha256 in report and pets_video.sha256 in report and "olivia" in report
    assert "Confirmed moments (1)" in report
    rows = list(csv.DictReader(io.StringIO(client.get(doc["query"]["urls"]["csv"]).content.decode())))
    assert len(rows) == len(doc["hits"]) and rows[0]["verdict"] == "confirmed"
    assert client.get(doc["query"]["urls"]["json"]).json()["hits"][0]["id"] == top["id"]

    asked = client.post(top["clip_url"])
    assert asked.status_code == 202
    job = wait_job(Job.objects.get(pk=asked.json()["job"]["job"]))  # the export job, on the worker
    assert job.status == JobStatus.DONE, job.error
    made = client.get(asked.json()["status_url"]).json()
    clip = client.get(made["file_url"])
    assert clip.status_code == 200
    body = asyncio.run(collect(clip))
    assert hashlib.sha256(body).hexdigest() == clip["X-Content-SHA256"] == made["sha256"]
    import av

    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
    assert stream.codec_context.name == "h264" and abs(frames - top["frames"]) <= 2
    exported = AuditEvent.objects.filter(case_id=case.pk, action__startswith="search.export.")
    assert set(exported.values_list("action", flat=True)) == {
        "search.export.report",
        "search.export.csv",
        "search.export.json",
        "search.export.clip",
    }
    assert exported.get(action="search.export.clip").details["sha256"] == clip["X-Content-SHA256"]


def test_web_search_ranks_like_the_reid_cli(
    pets_video: Any, photos: dict[str, Path], live_stack: Any
) -> None:
    """The same index (the case's folder, in the CLI's layout) and the same photo give the same ranking."""
    import json
    import subprocess
    import sys

    from webapp.footage.index_store import index_dir

    query, job = run(pets_video.case, photos["person"])
    assert job.status == JobStatus.DONE, job.error
    web = [
        (str(h.track.video_id), h.track.track_id, round(h.score, 4))
        for h in query.hits.select_related("track").order_by("rank")
    ]
    env = dict(live_stack["env"])
    args = ["search", "--index", str(index_dir(pets_video.case_id)), "--query", str(photos["person"])]
    args += ["--top", str(query.params["top_k"]), "--json", "--threads", "1"]
    out = subprocess.run(
        [sys.executable, "-m", "reid_core.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    cli = [(m["video"], m["track_id"], m["score"]) for m in json.loads(out.stdout)["hits"]]
    assert len(web) >= 10
    assert [k[:2] for k in web] == [k[:2] for k in cli]
    assert all(abs(a[2] - b[2]) < 1e-3 for a, b in zip(web, cli, strict=True))


def test_rerun_keeps_verdicts_of_tracks_found_again(
    pets_video: Any, photos: dict[str, Path], live_stack: Any
) -> None:
    case = pets_video.case
    query, _ = run(case, photos["person"])
    query.refresh_from_db()
    first_run = query.last_run_at
    top = query.hits.select_related("track").get(rank=1)
    feedback.set_verdict(hit=top, user=case.owner, verdict=Verdict.CONFIRMED)
    job = wait_job(services.rerun_query(query=query, user=case.owner))
    assert job.status == JobStatus.DONE, job.error
    query.refresh_from_db()
    assert query.last_run_at > first_run
    again = query.hits.get(track=top.track)
    assert again.pk != top.pk and again.verdict == Verdict.CONFIRMED and again.verdict_by == case.owner
    assert Job.objects.filter(query=query).count() == 2


def test_a_second_photo_of_the_person_joins_the_search(
    pets_video: Any, photos: dict[str, Path], live_stack: Any, tmp_path: Path
) -> None:
    """Another photo of the same person (a later moment of the clip) is stored, fused with the first, and the
    search runs again with both; a photo showing nobody fails the run with a message naming it; more than
    four photos and the same photo twice are refused before anything is stored."""
    from django.test import Client

    from webapp.audit.models import AuditEvent

    case = pets_video.case
    query, job = run(case, photos["person"])
    assert job.status == JobStatus.DONE, job.error
    target = search_pets.largest_query()
    gt = search_pets.gt_boxes(target.gt_id)
    later = max(f for f in gt if abs(f - target.frame) > 100)
    second = search_pets.save_crop(search_pets.frame_image(later), gt[later], tmp_path / "later.jpg")

    job = wait_job(services.add_photo(query=query, user=case.owner, photo=second.read_bytes()))
    assert job.status == JobStatus.DONE, job.error
    query.refresh_from_db()
    assert len(query.params["more_photos"]) == 1 and query.params["outcome"] == "results"
    hits = list(Hit.objects.filter(query=query).select_related("track").order_by("rank"))
    assert search_pets.track_matches(hits[0].track.boxes, gt) >= 0.5
    assert AuditEvent.objects.filter(action="search.photo.add", case=case).count() == 1
    client = Client()
    client.force_login(case.owner)
    doc = client.get(f"/cases/{case.pk}/search/queries/{query.pk}/").json()
    assert len(doc["query"]["more_photo_urls"]) == 1
    assert client.get(doc["query"]["more_photo_urls"][0]).status_code == 200

    with pytest.raises(services.SearchError, match="already part"):
        services.add_photo(query=query, user=case.owner, photo=second.read_bytes())
    job = wait_job(services.add_photo(query=query, user=case.owner, photo=photos["empty"].read_bytes()))
    assert job.status == JobStatus.FAILED and "added photo 3" in job.error
    query.refresh_from_db()
    assert len(query.params["more_photos"]) == 2
    with pytest.raises(services.SearchError, match="at most 4"):
        for name in ("scene", "person"):
            services.add_photo(query=query, user=case.owner, photo=photos[name].read_bytes())
