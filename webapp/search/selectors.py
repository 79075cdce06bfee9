"""Reads for searches, always scoped by the requesting user through cases.permissions, and the results
document the case page renders (ranked moments with everything the player and the overlay need)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from webapp.cases.permissions import Capability, CaseNotFound, User, authorize
from webapp.footage.models import Video
from webapp.footage.serializers import video_json
from webapp.jobs.events import job_event
from webapp.jobs.models import Job, JobKind, JobStatus
from webapp.search import scores
from webapp.search.models import Hit, Query, QueryOutcome

APPEARANCE_ONLY_LABEL = (
    "Appearance-only model pack: it compares clothing colour and shape, it is not trained person "
    "re-identification, and it never says two people are the same. Check every result by eye."
)
REID_LABEL = (
    'Trained person re-identification ({embedder}). "Likely the same person" is said only where 9 in 10 '
    "such scores were the same person on labelled footage; check each result by eye."
)
REID_UNCALIBRATED_LABEL = (
    "Person re-identification plug-in ({embedder}) without calibrated words: similarity says how alike "
    "people look, not that they are the same person. Check each result by eye."
)


def queries_for_case(*, user: User, case_id: int) -> QuerySet[Query]:
    authorize(user, case_id, Capability.VIEW)
    return Query.objects.filter(case_id=case_id).select_related("created_by").order_by("-created_at")


def query_for(*, user: User, case_id: int, query_id: int, capability: Capability = Capability.VIEW) -> Query:
    """A query of a case the user may act on; another case's query is the same 404 as a missing one."""
    access = authorize(user, case_id, capability)
    query = Query.objects.select_related("case", "created_by").filter(pk=query_id, case=access.case).first()
    if query is None:
        raise CaseNotFound
    return query


def hit_for(*, user: User, case_id: int, hit_id: int, capability: Capability = Capability.VIEW) -> Hit:
    access = authorize(user, case_id, capability)
    hit = (
        Hit.objects.select_related("query__case", "track__video")
        .filter(pk=hit_id, query__case=access.case)
        .first()
    )
    if hit is None:
        raise CaseNotFound
    return hit


def clip_job_for(*, user: User, case_id: int, job_id: int) -> Job:
    """An evidence clip's export job in the case; any other job is the same 404 as a missing one."""
    access = authorize(user, case_id, Capability.EXPORT)
    job = Job.objects.select_related("case").filter(pk=job_id, case=access.case, kind=JobKind.EXPORT).first()
    if job is None or "clip" not in job.params:
        raise CaseNotFound
    return job


def clip_json(job: Job) -> dict[str, Any]:
    """An evidence clip's export job for the page: its progress and, once made, the file's sha256 and URL."""
    case_id = job.case_id
    moment = job.params.get("clip") or {}
    result = job.params.get("result") if job.status == JobStatus.DONE else None
    return {
        "job": job_event(job),
        "hit": moment.get("hit"),
        "video": job.video_id,
        "start_s": moment.get("start_s"),
        "end_s": moment.get("end_s"),
        "ready": bool(result),
        "sha256": result["sha256"] if result else None,
        "size_bytes": result["size_bytes"] if result else None,
        "frames": result["frames"] if result else None,
        "status_url": reverse("search:clip-status", args=[case_id, job.pk]),
        "file_url": reverse("search:clip-file", args=[case_id, job.pk]) if result else None,
        "cancel_url": reverse("jobs:cancel", args=[job.pk]),
    }


# --- the results document -----------------------------------------------------------------------------


def latest_job(query: Query) -> Job | None:
    return Job.objects.filter(query=query, kind=JobKind.SEARCH).order_by("-created_at").first()


def query_state(query: Query, job: Job | None) -> str:
    """queued | running | failed | no_person | choose_person | results | no_results."""
    if job is not None and job.status in ("queued", "running"):
        return str(job.status)
    outcome = query.params.get("outcome")
    if outcome:
        return QueryOutcome(outcome).value
    if job is not None and job.status in ("failed", "cancelled"):
        return "failed"
    return "queued"


def models_json(params: dict[str, Any]) -> dict[str, Any]:
    models = dict(params.get("models") or {})
    appearance_only = bool(models.get("appearance_only", False))
    bands = scores.bands_for(models)
    if appearance_only:
        label = APPEARANCE_ONLY_LABEL
    else:
        label = (REID_LABEL if bands.calibrated else REID_UNCALIBRATED_LABEL).format(
            embedder=models.get("embedder", "unknown model")
        )
    return {**models, "appearance_only": appearance_only, "label": label, "bands": bands.__dict__}


def wall_clock(video: Video, t: float) -> str | None:
    if video.recording_started_at is None:
        return None
    return (video.recording_started_at + timedelta(seconds=t)).isoformat()


def hit_json(hit: Hit, models: dict[str, Any]) -> dict[str, Any]:
    """One result; models: the query's models_json (the words depend on the embedder)."""
    track = hit.track
    video = track.video
    case_id = video.case_id
    return {
        "id": hit.pk,
        "rank": hit.rank,
        **scores.describe(hit.score, models),
        "video": video.pk,
        "track": track.track_id,
        "start_s": round(hit.start_s, 3),
        "end_s": round(hit.end_s, 3),
        "start_wall": wall_clock(video, hit.start_s),
        "end_wall": wall_clock(video, hit.end_s),
        "frames": len(track.boxes),
        "thumb_url": reverse("search:thumb", args=[case_id, hit.pk]) if track.thumbnail else None,
        "best": {"frame": track.best_frame, "t": round(track.best_t, 3), "box": track.best_box},
        # Per-frame boxes in the video's own pixels for the overlay: [t, x, y, w, h].
        "boxes": [[r[1], r[2], r[3], r[4], r[5]] for r in track.boxes],
        "verdict": hit.verdict,
        "clip_url": reverse("search:clip", args=[case_id, hit.pk]),
        "verdict_url": reverse("search:verdict", args=[case_id, hit.pk]),
    }


def results(*, user: User, case_id: int, query_id: int) -> dict[str, Any]:
    query = query_for(user=user, case_id=case_id, query_id=query_id)
    return results_for(query)


def results_for(query: Query) -> dict[str, Any]:
    job = latest_job(query)
    models = models_json(query.params)
    hits = list(query.hits.select_related("track__video").order_by("rank"))
    videos = {h.track.video_id: h.track.video for h in hits}
    return {
        "query": query_json(query, job),
        "models": models,
        "videos": {str(v.pk): video_json(v) for v in videos.values()},
        "hits": [hit_json(h, models) for h in hits],
    }


def query_json(query: Query, job: Job | None = None) -> dict[str, Any]:
    case_id = query.case_id
    params = query.params
    state = query_state(query, job)
    return {
        "id": query.pk,
        "case": case_id,
        "state": state,
        "error": job.error if job is not None and job.error else None,
        "created_at": query.created_at.isoformat(),
        "created_by": query.created_by.get_username() if query.created_by else None,
        "last_run_at": query.last_run_at.isoformat() if query.last_run_at else None,
        "photo_url": reverse("search:photo", args=[case_id, query.pk]),
        # Further photos of the same person, fused with the first into one query.
        "more_photo_urls": [
            reverse("search:extra-photo", args=[case_id, query.pk, n])
            for n in range(len(params.get("more_photos", [])))
        ],
        "photo_sha256": query.photo_sha256,
        "photo": params.get("photo"),
        "box": params.get("box"),
        "candidates": params.get("candidates", []),
        "confirmed": params.get("confirmed", []),
        "rejected": params.get("rejected", []),
        "refined_from": query.refined_from_id,
        "job": job_event(job) if job is not None else None,
        "urls": {
            "results": reverse("search:query", args=[case_id, query.pk]),
            "choose": reverse("search:choose", args=[case_id, query.pk]),
            "rerun": reverse("search:rerun", args=[case_id, query.pk]),
            "add_photo": reverse("search:add-photo", args=[case_id, query.pk]),
            "refine": reverse("search:refine", args=[case_id, query.pk]),
            "report": reverse("search:report", args=[case_id, query.pk]),
            "csv": reverse("search:export", args=[case_id, query.pk, "csv"]),
            "json": reverse("search:export", args=[case_id, query.pk, "json"]),
        },
    }


def query_list_json(*, user: User, case_id: int) -> list[dict[str, Any]]:
    return [query_json(q, latest_job(q)) for q in queries_for_case(user=user, case_id=case_id)[:50]]
