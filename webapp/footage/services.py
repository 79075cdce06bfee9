"""Writes for footage a member asks for: uploads becoming videos, their details, queueing, retrying and
re-queueing the ingest job, delete. The ingest job's work is in footage/ingest.py, the case index in
footage/index_store.py.

Every function here is keyword-only and assumes the caller (a view, a task) already decided the user may do
it through webapp.cases.permissions. Files live under MEDIA_ROOT as cases/<case>/videos/<video>/...; the
case's vector index under cases/<case>/index/ is only changed while holding the case row's lock, so two
workers ingesting into one case never lose each other's vectors.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import current_app, signature
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case
from webapp.cases.services import ensure_unlocked
from webapp.footage import index_store, media
from webapp.footage.models import (
    RecordingStartSource,
    Video,
    VideoStatus,
    original_upload_to,
    video_dir,
)
from webapp.footage.uploads import UploadError, UploadInfo, UploadStore
from webapp.jobs import controls as job_controls
from webapp.jobs import services as jobs
from webapp.jobs.events import job_event
from webapp.jobs.models import Job, JobKind, JobStatus

logger = logging.getLogger(__name__)



class FootageError(Exception):
    """A request about footage that cannot be done; the message is shown to the user."""


# --- uploads ---------------------------------------------------------------------------------------------


def upload_store() -> UploadStore:
    return UploadStore(
        Path(settings.MEDIA_ROOT) / "uploads",
        max_bytes=int(getattr(settings, "SIGHTLINE_UPLOAD_MAX_BYTES", 20 * 1024**3)),
        expiry_s=int(getattr(settings, "SIGHTLINE_UPLOAD_EXPIRY_S", 24 * 3600)),
    )


def upload_for(
    *, case: Case, user: User | AnonymousUser, upload_id: str, as_owner: bool = False
) -> UploadInfo:
    """The upload, only if it belongs to this case and to this user: an unfinished upload is its
    uploader's alone (another member could append to or replace evidence), so anyone else gets 'not
    found'. ``as_owner``: the case owner may see it too, to cancel it."""
    info = upload_store().get(upload_id)
    if info.case_id != case.pk or (info.user_id != user.pk and not as_owner):
        raise UploadError(404, "No such upload.")
    return info


def create_video_from_upload(
    *,
    user: User | AnonymousUser,
    case: Case,
    upload_id: str,
    camera_label: str = "",
    request: HttpRequest | None = None,
) -> Video:
    """Probe a finished upload; accept it as a Video and queue its ingestion, or reject it and remove it.

    Idempotent: completions of one upload run one at a time (the upload's lock), and a repeated one answers
    with the video the first made. Nothing half-made is left behind: a refused upload is removed, and a
    video folder made for a video that then failed is removed with it.
    """
    store = upload_store()
    with store.completing(upload_id) as info:
        if info.case_id != case.pk or info.user_id != user.pk:
            raise UploadError(404, "No such upload.")
        if info.video_id is not None:
            done = Video.objects.filter(pk=info.video_id, case=case).first()
            if done is None:  # the video was deleted since
                raise UploadError(404, "No such upload.")
            return done
        if not info.complete:
            raise FootageError(f"The upload is not finished ({info.offset} of {info.length} bytes received).")
        data = store.data_path(upload_id)
        try:
            probed = media.probe(data)
        except media.MediaError as exc:
            store.discard(upload_id)
            raise FootageError(f"{info.filename or 'The file'}: {exc}") from exc
        video = _video_from(user=user, case=case, info=info, data=data, probed=probed, label=camera_label)
        store.mark_video(info, video.pk)
    details = {"name": video.original_name, "sha256": video.sha256, "size_bytes": video.size_bytes}
    if video.recording_started_at is not None:
        details["recording_started_at"] = video.recording_started_at.isoformat()
        details["recording_start_source"] = video.recording_start_source
    audit.record(
        action=AuditAction.VIDEO_UPLOAD, actor=user, request=request, case=case, target=video, details=details
    )
    return video


def _video_from(
    *, user: User | AnonymousUser, case: Case, info: UploadInfo, data: Path, probed: Any, label: str
) -> Video:
    name = (info.filename or "video")[:255]
    folder: Path | None = None
    try:
        with transaction.atomic():
            video = Video.objects.create(
                case=case,
                uploaded_by=user if isinstance(user, User) else None,
                original_name=name,
                sha256=info.sha256,
                size_bytes=info.length,
                duration_s=probed.duration_s,
                fps=probed.fps,
                frame_count=probed.frames,
                width=probed.width,
                height=probed.height,
                codec=probed.codec,
                camera_label=(label or info.metadata.get("camera", ""))[:200],
                # A default people can correct on the case page; the page says where it came from.
                recording_started_at=probed.creation_time,
                recording_start_source=RecordingStartSource.FILE
                if probed.creation_time
                else RecordingStartSource.NONE,
                status=VideoStatus.PROCESSING,
            )
            relative = original_upload_to(video, _clean_name(name))
            target = Path(settings.MEDIA_ROOT) / relative
            folder = target.parent
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(data, target)  # same file system: a rename, not a copy of several GB
            target.chmod(0o440)  # the original is evidence: read-only from here on
            video.original.name = relative
            video.save(update_fields=["original"])
            start_ingest(video=video, user=user)
    except BaseException:
        if folder is not None:
            if (folder / Path(relative).name).exists():  # moved, then the transaction failed: put it back
                os.replace(folder / Path(relative).name, data)
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return video


_UNSET: Any = object()


def update_video_details(
    *,
    video: Video,
    actor: User | AnonymousUser,
    camera_label: str | None = None,
    recording_started_at: datetime | None = _UNSET,
    entered_as: str = "",
    request: HttpRequest | None = None,
) -> Video:
    """Set the camera label and/or the recording start (aware; stored in UTC) of a video.

    ``None`` for the label, or the start left out, keeps that field; an empty label or a start of ``None``
    clears it. A start set here is marked as set by a person. Each change is audit-logged with the old and
    new values (``entered_as``: the local time and zone the person typed); a request that changes nothing
    writes nothing.
    """
    ensure_unlocked(video.case_id)
    with transaction.atomic():
        current = Video.objects.select_for_update().get(pk=video.pk)
        changes: dict[str, dict[str, Any]] = {}
        if camera_label is not None and camera_label[:200] != current.camera_label:
            changes["camera_label"] = {"old": current.camera_label, "new": camera_label[:200]}
            current.camera_label = camera_label[:200]
        if recording_started_at is not _UNSET and recording_started_at != current.recording_started_at:
            changes["recording_started_at"] = {
                "old": _iso(current.recording_started_at),
                "new": _iso(recording_started_at),
                "old_source": current.recording_start_source,
            }
            if entered_as and recording_started_at is not None:
                changes["recording_started_at"]["entered_as"] = entered_as
            current.recording_started_at = recording_started_at
            current.recording_start_source = (
                RecordingStartSource.USER if recording_started_at is not None else RecordingStartSource.NONE
            )
        if changes:
            current.save(
                update_fields=["camera_label", "recording_started_at", "recording_start_source", "updated_at"]
            )
            audit.record(
                action=AuditAction.VIDEO_DETAILS,
                actor=actor,
                case=current.case,
                target=current,
                request=request,
                details={"video": current.pk, "name": current.original_name, **changes},
            )
    return current


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _clean_name(name: str) -> str:
    # Only the extension of the client's name reaches the disk, and only if it is plain.
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f"original.{suffix}" if re.fullmatch(r"[a-z0-9]{1,8}", suffix) else "original.bin"


# --- jobs ------------------------------------------------------------------------------------------------

# A running job whose row was not touched for this long belongs to a worker that died: progress is written
# at least every few seconds while a job runs.
STALE_AFTER_S = 300


def start_ingest(*, video: Video, user: User | AnonymousUser) -> Job:
    """Queue an ingestion job for the video; the task is sent once the transaction commits."""
    return jobs.create_and_queue(
        case=video.case, kind=JobKind.INGEST, task=signature(INGEST_TASK), created_by=user, video_id=video.pk
    )


def retry_ingest(*, video: Video, request: HttpRequest | None = None) -> Job:
    """Run the video's latest ingest job again from scratch (after a failure or a cancel), through the one
    retry path of every job (which sets the video processing again: job_hooks); audited."""
    job = video.jobs.filter(kind=JobKind.INGEST).order_by("-created_at").first()
    if job is None or job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise FootageError("Only a failed or cancelled analysis can be retried.")
    return job_controls.retry(job=job, actor=request.user if request else None, request=request)


def is_current_delivery(*, job_id: int, task_id: str) -> bool:
    """False for an old message of a job that was re-sent since (a redelivery after a worker died)."""
    current = Job.objects.filter(pk=job_id).values_list("celery_task_id", flat=True).first()
    return current is None or not current or current == task_id


def requeue_stale_jobs(*, worker: str | None = None, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Send again the ingest jobs a dead worker left 'running'.

    A job is stale when it was running on ``worker`` and a worker of that name is starting now (the previous
    process of that name died mid-job), or when its row was not touched for ``stale_after_s``. The job gets
    a new task id, so the old message, if the broker ever redelivers it, is dropped (is_current_delivery).
    """
    limit = timezone.now() - timedelta(seconds=stale_after_s)
    requeued: list[Job] = []
    with transaction.atomic():
        for job in Job.objects.select_for_update().filter(kind=JobKind.INGEST, status=JobStatus.RUNNING):
            if job.updated_at >= limit and (worker is None or job.worker != worker):
                continue
            job.status, job.stage, job.celery_task_id = JobStatus.QUEUED, "", str(uuid.uuid4())
            job.save(update_fields=["status", "stage", "celery_task_id", "updated_at"])
            requeued.append(job)
    for job in requeued:
        logger.warning("re-queued ingest job %s left running by %s", job.pk, job.worker or "a dead worker")
        current_app.send_task(
            str(job.params.get("task", INGEST_TASK)), args=[job.pk], task_id=job.celery_task_id
        )
        jobs.publish(job_event(job))
    return [job.pk for job in requeued]


INGEST_TASK = "webapp.footage.tasks.ingest_video"


# --- delete ----------------------------------------------------------------------------------------------


def remove_video(*, video: Video, request: HttpRequest) -> None:
    """A member deletes the video (delete_video), audited with what it was."""
    details = {"video": video.pk, "name": video.original_name, "sha256": video.sha256}
    case = video.case
    delete_video(video=video, user=request.user)
    audit.record(action=AuditAction.VIDEO_DELETE, request=request, case=case, details=details)


def delete_video(*, video: Video, user: User | AnonymousUser | None) -> None:
    """Remove the video: its files, rendition, poster, crops, tracks, snapshots, jobs and vectors."""
    ensure_unlocked(video.case_id)
    for job_id in video.jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).values_list(
        "pk", flat=True
    ):
        jobs.request_cancel(job_id=job_id, actor=user)
    folder = Path(settings.MEDIA_ROOT) / video_dir(video)
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=video.case_id)
        index_store.change_case_index(video.case_id, index_store.forget_video(video.pk), None)
        video.delete()  # tracks, snapshots and jobs cascade
    shutil.rmtree(folder, ignore_errors=True)
