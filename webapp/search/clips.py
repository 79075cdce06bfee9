"""Evidence clip export jobs: a hit's moment is cut from the original by a job (never in a request), once
per moment of an original; downloads are audit-logged as exports. The cutting itself is in clip_cut.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import signature
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.footage.models import Video
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind, JobStatus
from webapp.search import clip_cut
from webapp.search.models import Hit, Query

# Sent by name (search/tasks.py registers it under this): services never import tasks.
CLIP_TASK = "webapp.search.tasks.make_clip"
CLIP_WEIGHTS = {"cut": 1.0}
# A queued or running export job whose row has not changed for this long lost its worker: a new request for
# the same moment queues another job instead of waiting on it. A running cut writes progress every second.
CLIP_JOB_ALIVE_S = 300


def request_clip(*, hit: Hit, user: User | AnonymousUser, request: HttpRequest | None = None) -> Job:
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
                clip_cut.stored_clip(job.params.get("result"))
            except clip_cut.ExportError:
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
        made = clip_cut.evidence_clip(
            video,
            float(moment["start_s"]),
            float(moment["end_s"]),
            progress=lambda done, total: reporter.progress(done=done, total=total),
        )
    except clip_cut.ExportError as exc:
        raise jobs.JobError(str(exc)) from None
    job.params = {**job.params, "result": clip_cut.clip_record(made)}
    job.save(update_fields=["params", "updated_at"])


def record_clip_download(
    *, user: User | AnonymousUser, job: Job, clip: clip_cut.Clip, request: HttpRequest | None = None
) -> None:
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
