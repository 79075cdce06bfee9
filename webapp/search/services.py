"""Writes for searches by photo: start a query, run it (the search job's work), pick the person, re-run,
confirm or reject hits, refine.

Every function is keyword-only and assumes the caller (a view, a task) already checked the user's right
through webapp.cases.permissions. The web process never loads models: person detection and embedding run
in the search worker; the web side only checks the photo (Pillow) and that the case has something to search.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from celery import signature
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case
from webapp.cases.services import EvidenceLocked, ensure_unlocked
from webapp.footage import index_store
from webapp.footage.models import Track, Video
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind, JobStatus
from webapp.search import case_index, exports
from webapp.search.models import Hit, Query, Verdict
from webapp.search.photos import PhotoError, check_photo

logger = logging.getLogger(__name__)

Box = list[float]
# Share of the job's progress bar per stage.
SEARCH_WEIGHTS = {"detect": 0.4, "search": 0.4, "store": 0.2}
# Tasks are sent by name (search/tasks.py registers them under these): services never import tasks.
SEARCH_TASK = "webapp.search.tasks.run_search"
CLIP_TASK = "webapp.search.tasks.make_clip"


class SearchError(Exception):
    """A search request that cannot be done; the message is shown to the user."""


def default_top_k() -> int:
    return int(getattr(settings, "SIGHTLINE_SEARCH_TOP_K", 100))


# --- starting ----------------------------------------------------------------------------------------------


def start_search(
    *,
    user: Any,
    case: Case,
    photo: bytes,
    box: Box | None = None,
    point: list[float] | None = None,
    request: Any = None,
) -> tuple[Query, Job]:
    """Check the photo and the case, store the query and queue its search. Nothing is stored on refusal.

    box: the person's box in the photo, if the user drew it. point: where the user clicked in the photo (a
    paused video frame): the search is for the person whose detected box holds it.
    """
    try:
        checked = check_photo(photo)
    except PhotoError as exc:
        raise SearchError(str(exc)) from exc
    if box is not None:
        box = clean_box(box, checked.width, checked.height)
    if point is not None:
        point = clean_point(point, checked.width, checked.height)
    ensure_searchable(case.pk)
    with transaction.atomic():
        query = Query(
            case=case,
            created_by=user if user.is_authenticated else None,
            photo_sha256=checked.sha256,
            params={
                "box": box,
                "point": point,
                "top_k": default_top_k(),
                "confirmed": [],
                "rejected": [],
                "photo": {
                    "width": checked.width,
                    "height": checked.height,
                    "format": checked.format,
                    "turned": checked.turned,
                },
            },
        )
        query.photo.save(f"{checked.sha256}.jpg", ContentFile(checked.data), save=False)
        query.save()
        audit.record(
            action=AuditAction.SEARCH_START,
            actor=user,
            case=case,
            target=query,
            request=request,
            details={"photo_sha256": checked.sha256, "box": box},
        )
        job = queue_search(query=query, user=user)
    return query, job


def ensure_searchable(case_id: int) -> None:
    if not case_index.has_searchable_footage(case_id):
        raise SearchError(case_index.EMPTY_CASE_MESSAGE)


def clean_box(box: Any, width: int, height: int) -> Box:
    """A user's box [x, y, w, h] in the photo's pixels, clipped to the photo; refused when too small."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SearchError("The box must be four numbers: x, y, width, height.") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):  # JSON allows NaN and 1e999; PostgreSQL does not
        raise SearchError("The box must be four numbers: x, y, width, height.")
    x0, y0 = max(0.0, min(x, x + w)), max(0.0, min(y, y + h))
    x1, y1 = min(float(width), max(x, x + w)), min(float(height), max(y, y + h))
    if x1 - x0 < 8 or y1 - y0 < 16:
        raise SearchError("The box is too small: draw it around the whole person.")
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def clean_point(point: Any, width: int, height: int) -> list[float]:
    try:
        x, y = (float(v) for v in point)
    except (TypeError, ValueError):
        raise SearchError("The point must be two numbers: x, y.") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise SearchError("The point must be two numbers: x, y.")
    if not (0 <= x <= width and 0 <= y <= height):
        raise SearchError("The point is outside the photo.")
    return [round(x, 1), round(y, 1)]


def pick_at(point: list[float] | None, candidates: list[dict[str, Any]]) -> list[float] | None:
    """The smallest candidate box holding the point (the person clicked, in front of a larger one)."""
    if point is None:
        return None
    x, y = point
    holding = [c["box"] for c in candidates if c["box"][0] <= x <= c["box"][0] + c["box"][2]]
    holding = [b for b in holding if b[1] <= y <= b[1] + b[3]]
    return min(holding, key=lambda b: b[2] * b[3]) if holding else None


def queue_search(*, query: Query, user: Any) -> Job:
    return jobs.create_and_queue(
        case=query.case, kind=JobKind.SEARCH, task=signature(SEARCH_TASK), created_by=user, query_id=query.pk
    )


def choose_person(*, query: Query, user: Any, box: Any, request: Any = None) -> Job:
    """Search for the person in the given box of the query's photo (picked among candidates or drawn)."""
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    size = query.params.get("photo", {})
    chosen = clean_box(box, int(size.get("width", 1 << 30)), int(size.get("height", 1 << 30)))
    with transaction.atomic():
        query.params = {**query.params, "box": chosen}
        query.save(update_fields=["params"])
        audit.record(
            action=AuditAction.SEARCH_CHOOSE_PERSON,
            actor=user,
            case=query.case,
            target=query,
            request=request,
            details={"box": chosen},
        )
        return queue_search(query=query, user=user)


def rerun_query(*, query: Query, user: Any, request: Any = None) -> Job:
    """Run the query again (e.g. after new footage arrived); verdicts on tracks found again are kept."""
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    ensure_searchable(query.case_id)
    with transaction.atomic():
        audit.record(
            action=AuditAction.SEARCH_RERUN, actor=user, case=query.case, target=query, request=request
        )
        return queue_search(query=query, user=user)


MAX_PHOTOS = 4  # photos of one person in one search: the first and up to three more


def add_photo(*, query: Query, user: Any, photo: bytes, request: Any = None) -> Job:
    """Another photo of the same person (front and back, another camera): stored beside the query's photo,
    fused with it into one query, and the search run again. Nothing is stored on refusal."""
    try:
        checked = check_photo(photo)
    except PhotoError as exc:
        raise SearchError(str(exc)) from exc
    more = list(query.params.get("more_photos", []))
    if 1 + len(more) >= MAX_PHOTOS:
        raise SearchError(f"A search takes at most {MAX_PHOTOS} photos of one person.")
    if checked.sha256 == query.photo_sha256 or any(p["sha256"] == checked.sha256 for p in more):
        raise SearchError("This photo is already part of the search.")
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    ensure_searchable(query.case_id)
    name = f"cases/{query.case_id}/queries/{checked.sha256}.jpg"
    with transaction.atomic():
        if not query.photo.storage.exists(name):
            query.photo.storage.save(name, ContentFile(checked.data))
        more.append(
            {"sha256": checked.sha256, "width": checked.width, "height": checked.height, "file": name}
        )
        _save_params(query, more_photos=more)
        audit.record(
            action=AuditAction.SEARCH_PHOTO_ADD,
            actor=user,
            case=query.case,
            target=query,
            request=request,
            details={"photo_sha256": checked.sha256, "photos": 1 + len(more)},
        )
        return queue_search(query=query, user=user)


def extra_photo_path(query: Query, n: int) -> Any:
    """The file of the query's n-th added photo (0-based), or None."""
    from pathlib import Path

    more = query.params.get("more_photos", [])
    if not 0 <= n < len(more):
        return None
    return Path(query.photo.storage.path(more[n]["file"]))


# --- feedback ----------------------------------------------------------------------------------------------


HIT_ACTIONS = {
    Verdict.CONFIRMED: AuditAction.HIT_CONFIRMED,
    Verdict.REJECTED: AuditAction.HIT_REJECTED,
    Verdict.NONE: AuditAction.HIT_CLEAR,
}


def set_verdict(*, hit: Hit, user: Any, verdict: str, request: Any = None) -> Hit:
    if verdict not in Verdict.values:
        raise SearchError("A verdict is 'confirmed', 'rejected' or '' (not reviewed).")
    ensure_unlocked(hit.query.case_id)
    with transaction.atomic():
        hit.verdict = verdict
        hit.verdict_by = user if verdict else None
        hit.verdict_at = timezone.now() if verdict else None
        hit.save(update_fields=["verdict", "verdict_by", "verdict_at"])
        audit.record(
            action=HIT_ACTIONS[Verdict(verdict)],
            actor=user,
            case=hit.query.case,
            target=hit,
            request=request,
            details={
                "query": hit.query_id,
                "video": hit.track.video_id,
                "track": hit.track.track_id,
                "rank": hit.rank,
                "score": round(hit.score, 4),
            },
        )
    return hit


def _track_key(hit: Hit) -> list[int]:
    return [hit.track.video_id, hit.track.track_id]


def refine_query(*, query: Query, user: Any, request: Any = None) -> tuple[Query, Job]:
    """A new query from the same photo and person that uses the confirmed hits (query expansion) and leaves
    the rejected ones out; feedback given to earlier refinements carries over."""
    hits = list(query.hits.select_related("track"))
    confirmed = {tuple(k) for k in query.params.get("confirmed", [])}
    rejected = {tuple(k) for k in query.params.get("rejected", [])}
    for hit in hits:
        key = tuple(_track_key(hit))
        if hit.verdict == Verdict.CONFIRMED:
            confirmed.add(key)
            rejected.discard(key)
        elif hit.verdict == Verdict.REJECTED:
            rejected.add(key)
            confirmed.discard(key)
    if not confirmed and not rejected:
        raise SearchError("Confirm or reject at least one result before refining the search.")
    with transaction.atomic():
        refined = Query(
            case=query.case,
            created_by=user if user.is_authenticated else None,
            photo_sha256=query.photo_sha256,
            refined_from=query,
            params={
                **query.params,
                "outcome": None,
                "confirmed": sorted([list(k) for k in confirmed]),
                "rejected": sorted([list(k) for k in rejected]),
            },
        )
        refined.photo.name = query.photo.name  # the same stored photo
        refined.save()
        audit.record(
            action=AuditAction.SEARCH_REFINE,
            actor=user,
            case=query.case,
            target=refined,
            request=request,
            details={"from": query.pk, "confirmed": len(confirmed), "rejected": len(rejected)},
        )
        job = queue_search(query=refined, user=user)
    return refined, job


# --- the search itself (the job's work, run by the Celery task) --------------------------------------------


def search_work(job: Job, reporter: jobs.Reporter) -> None:
    """Find the person in the photo, rank the case's tracks with reid_core, store the hits."""
    from reid_core.types import NoPersonError
    from reid_core.video import read_image
    from webapp.engine import get_engine

    query = Query.objects.select_related("case").filter(pk=job.query_id).first() if job.query_id else None
    if query is None:
        raise jobs.JobError("The query was deleted.")
    # Stage changes are the only events: each is a row update and a websocket message, and the whole job
    # takes well under a second.
    reporter.stage("detect")
    _save_params(query, outcome=None)  # a re-run's earlier outcome must not stand for this one
    engine = get_engine()
    image = read_image(_photo_path(query))
    models = engine.models_info()
    box = query.params.get("box")
    if box is None:
        try:
            chosen, people = engine.choose_query_box(image)
        except NoPersonError:
            _save_params(query, candidates=[], models=models, outcome="no_person")
            raise jobs.JobError(
                "No person was found in the photo. Draw a box around the person to search for them."
            ) from None
        candidates = [
            {"box": [round(float(v), 1) for v in c.box], "score": round(c.score, 3)} for c in people
        ]
        h, w = image.shape[:2]
        whole = list(chosen) == [0.0, 0.0, float(w), float(h)]
        clicked = pick_at(query.params.get("point"), candidates)
        if clicked is not None:
            cx, cy, cw, ch = (float(v) for v in clicked)
            chosen = (cx, cy, cw, ch)
        elif len(people) > 1 and not whole:
            _save_params(query, candidates=candidates, models=models, outcome="choose_person")
            with transaction.atomic():
                query.hits.all().delete()
            return  # the page shows the candidates; choose_person() queues the search
        box = [round(float(v), 1) for v in chosen]
        _save_params(query, candidates=candidates, models=models, box=box)

    # An index made with another embedder (an upgrade changed the model) is re-embedded first, with
    # progress: its vectors cannot be compared with this photo's.
    index_store.bring_up_to_date(case_id=query.case_id, reporter=reporter)
    reporter.stage("search")
    try:
        index, catalog = case_index.load(query.case_id)
    except case_index.EmptyCaseError as exc:
        raise jobs.JobError(str(exc)) from None
    more_photos = []
    for n in range(len(query.params.get("more_photos", []))):
        path = extra_photo_path(query, n)
        if path is None or not path.is_file():
            raise jobs.JobError(f"Added photo {n + 2} of this search is missing from the media store.")
        try:
            more_photos.append((read_image(path), engine.choose_query_box(read_image(path))[0]))
        except NoPersonError:
            raise jobs.JobError(
                f"No person was found in added photo {n + 2}. Use a photo showing the whole person."
            ) from None
    moments = engine.search(
        index,
        catalog,
        image,
        more_photos=more_photos,
        box=tuple(box),
        top_k=int(query.params.get("top_k") or default_top_k()),
        confirmed=[(str(v), int(t)) for v, t in query.params.get("confirmed", [])],
        rejected=[(str(v), int(t)) for v, t in query.params.get("rejected", [])],
    )

    reporter.stage("store")
    store_hits(query=query, moments=moments)
    _save_params(query, outcome="results" if moments else "no_results")


def _photo_path(query: Query) -> Any:
    from pathlib import Path

    return Path(query.photo.path)


def _save_params(query: Query, **changes: Any) -> None:
    query.params = {**query.params, **changes}
    query.save(update_fields=["params"])


def store_hits(*, query: Query, moments: list[Any]) -> list[Hit]:
    """Replace the query's hits with the ranked moments; a verdict given to a track found again is kept,
    and a refined query starts with the verdicts of the query it came from."""
    wanted = {(int(m.video), m.track_id) for m in moments}
    # Keys only: the per-frame boxes of every candidate row (videos x track ids) cost more than the whole
    # search on a large case (bench/search_bench.py).
    candidates = Track.objects.filter(
        video_id__in={v for v, _ in wanted}, track_id__in={t for _, t in wanted}
    ).values_list("pk", "video_id", "track_id")
    tracks = {(v, t): pk for pk, v, t in candidates if (v, t) in wanted}
    if query.hits.exists():  # a search queued before the case was locked must not replace stored hits
        try:
            ensure_unlocked(query.case_id)
        except EvidenceLocked as exc:
            raise jobs.JobError(str(exc)) from exc
    with transaction.atomic():
        previous = {
            (v, t): (verdict, by, at)
            for v, t, verdict, by, at in Hit.objects.filter(
                query__in=[query.pk, query.refined_from_id or query.pk]
            )
            .order_by("query_id")  # this query's own verdicts (higher id) win over its parent's
            .values_list("track__video_id", "track__track_id", "verdict", "verdict_by", "verdict_at")
        }
        query.hits.all().delete()
        rows: list[Hit] = []
        for m in moments:
            track = tracks.get((int(m.video), m.track_id))
            before = previous.get((int(m.video), m.track_id), (Verdict.NONE, None, None))
            if track is None:
                logger.warning(
                    "query %s: track %s of video %s is gone; skipped", query.pk, m.track_id, m.video
                )
                continue
            rows.append(
                Hit(
                    query=query,
                    track_id=track,
                    score=float(m.score),
                    rank=len(rows) + 1,
                    start_s=float(m.start_s),
                    end_s=float(m.end_s),
                    verdict=before[0],
                    verdict_by_id=before[1],
                    verdict_at=before[2],
                )
            )
        created = Hit.objects.bulk_create(rows)
        query.last_run_at = timezone.now()
        query.save(update_fields=["last_run_at"])
    return created


def record_results_view(*, query: Query, request: HttpRequest) -> None:
    audit.record(action=AuditAction.SEARCH_RESULTS_VIEW, request=request, case=query.case, target=query)


def record_export(*, user: Any, query: Query, kind: str, request: Any = None, **details: Any) -> None:
    """Every export (report, CSV, JSON, evidence clip) leaves an audit event."""
    audit.record(
        action=AuditAction(f"search.export.{kind}"),  # ValueError for a kind the log does not know
        actor=user,
        case=query.case,
        target=query,
        request=request,
        details=details,
    )


# --- evidence clips: export jobs ---------------------------------------------------------------------------

CLIP_WEIGHTS = {"cut": 1.0}
# A queued or running export job whose row has not changed for this long lost its worker: a new request for
# the same moment queues another job instead of waiting on it. A running cut writes progress every second.
CLIP_JOB_ALIVE_S = 300


def request_clip(*, hit: Hit, user: Any, request: Any = None) -> Job:
    """The export job that makes the hit's evidence clip.

    The same moment of the same original is never cut twice: a finished job whose file still has the sha256
    it was made with is answered at once, and one queued or running is shared; otherwise a new job is queued
    (audit: job.start). Requests for one video are serialized on its row so two clicks make one job.
    """
    video = hit.track.video
    moment = {"video": video.pk, "video_sha256": video.sha256, "start_s": hit.start_s, "end_s": hit.end_s}
    with transaction.atomic():
        Video.objects.select_for_update().filter(pk=video.pk).first()
        same = _clip_job_for(moment)
        if same is not None:
            return same
        job = jobs.create_and_queue(
            case=video.case,
            kind=JobKind.EXPORT,
            task=signature(CLIP_TASK),
            created_by=user,
            video_id=video.pk,
            params={"clip": {**moment, "hit": hit.pk, "query": hit.query_id, "track": hit.track.track_id}},
        )
        audit.record(
            action=AuditAction.JOB_START,
            actor=user,
            case=video.case,
            target=job,
            request=request,
            details={"kind": job.kind, **moment, "hit": hit.pk, "query": hit.query_id},
        )
    return job


def _clip_job_for(moment: dict[str, Any]) -> Job | None:
    alive_since = timezone.now() - timedelta(seconds=CLIP_JOB_ALIVE_S)
    candidates = Job.objects.filter(
        kind=JobKind.EXPORT,
        video_id=moment["video"],
        status__in=[JobStatus.DONE, JobStatus.QUEUED, JobStatus.RUNNING],
    ).order_by("-created_at")
    for job in candidates:
        made = job.params.get("clip") or {}
        if any(made.get(key) != value for key, value in moment.items()):
            continue
        if job.status == JobStatus.DONE:
            try:
                exports.stored_clip(job.params.get("result"))
            except exports.ExportError:
                continue  # its file is gone or changed: cut it again
            return job
        if not job.cancel_requested and job.updated_at >= alive_since:
            return job
    return None


def clip_work(job: Job, reporter: jobs.Reporter) -> None:
    """The export job's work: cut the moment from the original; the clip's file and sha256 go in the job."""
    moment = job.params.get("clip") or {}
    video = Video.objects.filter(pk=job.video_id).first() if job.video_id else None
    if video is None or not moment:
        raise jobs.JobError("The video was deleted; there is nothing to cut the clip from.")
    reporter.stage("cut")
    try:
        made = exports.evidence_clip(
            video,
            float(moment["start_s"]),
            float(moment["end_s"]),
            progress=lambda done, total: reporter.progress(done=done, total=total),
        )
    except exports.ExportError as exc:
        raise jobs.JobError(str(exc)) from None
    job.params = {**job.params, "result": exports.clip_record(made)}
    job.save(update_fields=["params", "updated_at"])


def record_clip_download(*, user: Any, job: Job, clip: exports.Clip, request: Any = None) -> None:
    """The clip leaves the system: audit-logged as an export of the query it was asked from (of the job when
    that query was deleted since), with both sha256."""
    moment = job.params.get("clip") or {}
    query = Query.objects.filter(pk=int(moment.get("query") or 0)).first()
    audit.record(
        action=AuditAction.EXPORT_CLIP,
        actor=user,
        case=job.case,
        target=query if query is not None else job,
        request=request,
        details={
            "hit": moment.get("hit"),
            "sha256": clip.sha256,
            "video": job.video_id,
            "video_sha256": moment.get("video_sha256"),
            "start_s": clip.start_s,
            "end_s": clip.end_s,
            "frames": clip.frames,
            "job": job.pk,
        },
    )
