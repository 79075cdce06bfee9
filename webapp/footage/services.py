"""Writes for footage: uploads becoming videos, their details, the ingestion job, cancel, retry, delete.

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
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import current_app, signature
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from reid_core.catalog import Catalog
from reid_core.index import VectorIndex
from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case
from webapp.cases.services import ensure_unlocked
from webapp.engine import get_engine
from webapp.footage import media
from webapp.footage.index_store import VECTORS_SUBDIR, bring_up_to_date, index_dir, load_case_index
from webapp.footage.job_hooks import CANCELLED_MESSAGE
from webapp.footage.models import (
    RecordingStartSource,
    Snapshot,
    Track,
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


def upload_for(*, case: Case, user: Any, upload_id: str, as_owner: bool = False) -> UploadInfo:
    """The upload, only if it belongs to this case and to this user: an unfinished upload is its
    uploader's alone (another member could append to or replace evidence), so anyone else gets 'not
    found'. ``as_owner``: the case owner may see it too, to cancel it."""
    info = upload_store().get(upload_id)
    if info.case_id != case.pk or (info.user_id != user.pk and not as_owner):
        raise UploadError(404, "No such upload.")
    return info


def create_video_from_upload(
    *, user: Any, case: Case, upload_id: str, camera_label: str = "", request: HttpRequest | None = None
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


def _video_from(*, user: Any, case: Case, info: UploadInfo, data: Path, probed: Any, label: str) -> Video:
    name = (info.filename or "video")[:255]
    folder: Path | None = None
    try:
        with transaction.atomic():
            video = Video.objects.create(
                case=case,
                uploaded_by=user,
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
    actor: Any,
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

# Share of the job's progress bar per stage (measured on the PETS clip: analysis dominates).
# The rendition runs beside the analysis (see _Rendition); "transcode" only shows when it finishes later.
INGEST_WEIGHTS = {"probe": 0.01, "analyse": 0.9, "transcode": 0.04, "index": 0.05}
# A running job whose row was not touched for this long belongs to a worker that died: progress is written
# at least every few seconds while a job runs.
STALE_AFTER_S = 300


def start_ingest(*, video: Video, user: Any) -> Job:
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


# --- the ingestion itself (the job's work, run by the Celery task) ----------------------------------------


def ingest_work(job: Job, reporter: jobs.Reporter) -> None:
    """Probe, make the rendition and poster, find people with reid_core, store and index them.

    Safe to run again after a crash at any point: the video's tracks, crops and vectors are removed first.
    On failure or cancel the partial results are removed again and the video says why.
    """
    video = Video.objects.filter(pk=job.video_id).first() if job.video_id else None
    if video is None:
        raise jobs.JobError("The video was deleted.")
    rendition: _Rendition | None = None
    try:
        reporter.stage("probe")
        _remove_results(video)  # what an interrupted earlier attempt may have left
        Video.objects.filter(pk=video.pk).update(status=VideoStatus.PROCESSING, error="")
        original = Path(video.original.path)
        if not original.exists():
            raise jobs.JobError("The original file is missing from the media store.")
        info = media.probe(original, decode_budget_s=0.5)
        folder = Path(settings.MEDIA_ROOT) / video_dir(video)
        if not (folder / "poster.jpg").exists():
            media.make_poster(original, folder / "poster.jpg", at_s=min(1.0, (video.duration_s or 0) / 2))
        video.poster.name = f"{video_dir(video)}/poster.jpg"
        video.save(update_fields=["poster"])
        if info.browser_playable:
            # Browsers play the original as it is: it is its own rendition (the file is not copied).
            video.rendition.name = video.original.name
            video.save(update_fields=["rendition"])
        elif not (folder / "rendition.mp4").exists():
            rendition = _Rendition(original, folder / "rendition.mp4", info.frames)
        Video.objects.filter(pk=video.pk).update(status=VideoStatus.INGESTING)
        result = _analyse(video, reporter)
        if rendition is not None:
            _finish_rendition(rendition, reporter)
        if not info.browser_playable:
            video.rendition.name = f"{video_dir(video)}/rendition.mp4"
            video.save(update_fields=["rendition"])
        # The case's index was made with another embedder (an upgrade changed the model): re-embed it
        # first, so this video's vectors join vectors they can be compared with.
        bring_up_to_date(case_id=video.case_id, reporter=reporter)
        reporter.stage("index", total=len(result.snapshots))
        store_ingest(video=video, result=result, models=get_engine().models_info())
        reporter.progress(done=len(result.snapshots), total=len(result.snapshots))
    except BaseException as exc:
        if rendition is not None:
            rendition.cancel()
        _remove_results(video)
        if reporter.cancelled or isinstance(exc, jobs.JobCancelled):
            _fail_video(video.pk, CANCELLED_MESSAGE)
            raise
        if not isinstance(exc, Exception):  # the worker process is going away
            _fail_video(video.pk, _named(video, f"Analysis interrupted ({type(exc).__name__}). Retry it."))
            raise
        from reid_core.types import ReidError

        if isinstance(exc, media.MediaError):
            exc = jobs.JobError(str(exc))
        elif not isinstance(exc, jobs.JobError | ReidError):
            logger.exception("ingest of video %s failed", video.pk)  # the job's error says "worker log"
        message = _named(video, jobs.user_message(exc))
        _fail_video(video.pk, message)
        raise jobs.JobError(message) from exc  # the job's error names the file too
    Video.objects.filter(pk=video.pk).update(status=VideoStatus.READY, error="")


class _Rendition:
    """The H.264 rendition made in a thread while the analysis runs in the task's thread.

    Both only read the original; the analysis leaves part of the cores idle (decoding, Python between ONNX
    calls) and PyAV/libx264 release the GIL, so the pair takes little longer than the analysis alone
    (bench/web_ingest_bench.py). The thread touches no database; the task's thread reports its progress.
    """

    def __init__(self, source: Path, target: Path, total: int) -> None:
        self.total = total
        self.done = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source, target), daemon=True)
        self._thread.start()

    def _run(self, source: Path, target: Path) -> None:
        try:
            media.make_rendition(source, target, progress=self._progress, should_stop=self._stop.is_set)
        except BaseException as exc:  # handed to the task's thread by wait()
            self.error = exc

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def wait(self, timeout: float) -> bool:
        """True once the thread ended; raises what it raised."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self.error is not None:
            raise self.error
        return True

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


def _finish_rendition(rendition: _Rendition, reporter: jobs.Reporter) -> None:
    if rendition.wait(0):
        return
    reporter.stage("transcode", total=rendition.total)
    while not rendition.wait(0.5):
        reporter.progress(done=rendition.done, total=rendition.total)  # raises when the job is cancelled


def _named(video: Video, message: str) -> str:
    """The message about the video's file, naming it as it was uploaded: the engine names the stored file
    (a path on the server, which says nothing to the user and is not for them to see)."""
    name = video.original_name or "The video"
    if video.original.name:
        message = message.replace(str(Path(settings.MEDIA_ROOT) / video.original.name), name)
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _analyse(video: Video, reporter: jobs.Reporter) -> Any:
    return get_engine().ingest(
        Path(video.original.path), video=str(video.pk), progress=reporter, should_stop=reporter.should_stop
    )


def store_ingest(*, video: Video, result: Any, models: dict[str, Any] | None = None) -> None:
    """Store a reid_core VideoIngest of the video: Track/Snapshot rows, crops, and the case's index.

    ``models`` is the engine's models_info(), recorded in the case catalog when the index is created and
    checked against it afterwards (vectors of two embedders must never share an index).
    """

    crops_dir = Path(settings.MEDIA_ROOT) / video_dir(video) / "crops"
    wanted: dict[int, list[tuple[tuple[float, float, float, float], Path]]] = {}
    by_track: dict[int, list[Any]] = {}
    for snap in result.snapshots:
        by_track.setdefault(snap.track_id, []).append(snap)
    tracks: list[Track] = []
    for tr in result.tracks:
        snaps = by_track.get(tr.track_id, [])
        best = max(snaps, key=lambda s: s.quality) if snaps else None
        first = tr.frames[0]
        track = Track(
            video=video,
            track_id=tr.track_id,
            start_s=tr.start_s,
            end_s=tr.end_s,
            start_frame=first.frame,
            end_frame=tr.frames[-1].frame,
            best_frame=best.frame if best else first.frame,
            best_t=best.t if best else first.t,
            best_box=_box(best.box if best else first.box),
            boxes=[[f.frame, round(f.t, 3), *_box(f.box)] for f in tr.frames],
        )
        if best is not None:
            name = f"track-{tr.track_id}.jpg"
            track.thumbnail.name = f"{video_dir(video)}/crops/{name}"
            wanted.setdefault(best.frame, []).append((best.box, crops_dir / name))
        for snap in snaps:
            name = f"track-{tr.track_id}-{snap.snapshot}.jpg"
            wanted.setdefault(snap.frame, []).append((snap.box, crops_dir / name))
        tracks.append(track)
    media.save_crops(Path(video.original.path), wanted)

    with transaction.atomic():
        # The case row lock serialises every change of this case's index (other workers, deletes).
        Case.objects.select_for_update().get(pk=video.case_id)
        if not Video.objects.filter(pk=video.pk).exists():
            raise jobs.JobError("The video was deleted during its analysis.")
        created = {t.track_id: t for t in Track.objects.bulk_create(tracks)}
        rows = []
        for snap in result.snapshots:
            row = Snapshot(
                track=created[snap.track_id],
                ordinal=snap.snapshot,
                frame=snap.frame,
                t=snap.t,
                box=_box(snap.box),
                quality=float(snap.quality),
            )
            row.crop.name = f"{video_dir(video)}/crops/track-{snap.track_id}-{snap.snapshot}.jpg"
            rows.append(row)
        Snapshot.objects.bulk_create(rows)
        _change_case_index(video.case_id, lambda index, catalog: _add(index, catalog, result), models)


def _box(box: Any) -> list[float]:
    return [round(float(v), 1) for v in box]




def _change_case_index(
    case_id: int, change: Callable[[VectorIndex, Catalog], Any], models: dict[str, Any] | None
) -> None:
    """Load, change and save the case index. The caller holds the case row lock.

    With ``models`` (adding), a missing index is created for them, and an existing one must have been built
    by the same embedder. Without (removing), a missing index means there is nothing to remove.
    """
    directory = index_dir(case_id)
    loaded = load_case_index(case_id)
    if loaded is not None:
        index, catalog = loaded
        if models is not None:
            built, mine = catalog.models.get("embedder"), models.get("embedder")
            if built is not None and mine is not None and built != mine:
                raise jobs.JobError(
                    f"This case was indexed with the model {built!r} but the workers now run {mine!r}: "
                    "an operator must configure the same model pack or re-analyse the case's videos."
                )
    elif models is None:
        return
    else:
        index, catalog = VectorIndex(int(models["dim"])), Catalog(models=dict(models))
    change(index, catalog)
    if models is not None:
        # Vectors first, then the catalog: a search ignores vectors of videos the catalog does not list.
        index.save(directory / VECTORS_SUBDIR)
        catalog.save(directory)
    else:
        catalog.save(directory)
        index.save(directory / VECTORS_SUBDIR)


def _add(index: VectorIndex, catalog: Catalog, result: Any) -> None:
    from reid_core.pipeline import add_to_index  # the web process does not need the engine's imports

    add_to_index(index, catalog, result)


def _forget(video_id: int) -> Callable[[VectorIndex, Catalog], None]:
    def change(index: VectorIndex, catalog: Catalog) -> None:
        index.remove_video(str(video_id))
        catalog.remove(str(video_id))

    return change


def _remove_results(video: Video) -> None:
    """Remove everything an ingest attempt produced: rows, crops and the video's vectors."""
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=video.case_id)
        Track.objects.filter(video=video).delete()  # snapshots go with their tracks
        _change_case_index(video.case_id, _forget(video.pk), None)
    folder = Path(settings.MEDIA_ROOT) / video_dir(video)
    shutil.rmtree(folder / "crops", ignore_errors=True)
    for partial in folder.glob(".*.part"):  # a rendition or poster whose writer was killed
        partial.unlink(missing_ok=True)


def _fail_video(video_id: int, message: str) -> None:
    Video.objects.filter(pk=video_id).update(status=VideoStatus.FAILED, error=message)


# --- delete ----------------------------------------------------------------------------------------------


def remove_video(*, video: Video, request: HttpRequest) -> None:
    """A member deletes the video (delete_video), audited with what it was."""
    details = {"video": video.pk, "name": video.original_name, "sha256": video.sha256}
    case = video.case
    delete_video(video=video, user=request.user)
    audit.record(action=AuditAction.VIDEO_DELETE, request=request, case=case, details=details)


def delete_video(*, video: Video, user: Any) -> None:
    """Remove the video: its files, rendition, poster, crops, tracks, snapshots, jobs and vectors."""
    ensure_unlocked(video.case_id)
    for job_id in video.jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).values_list(
        "pk", flat=True
    ):
        jobs.request_cancel(job_id=job_id, actor=user)
    folder = Path(settings.MEDIA_ROOT) / video_dir(video)
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=video.case_id)
        _change_case_index(video.case_id, _forget(video.pk), None)
        video.delete()  # tracks, snapshots and jobs cascade
    shutil.rmtree(folder, ignore_errors=True)
