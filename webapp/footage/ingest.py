"""The ingest job's work: a video becomes rows, crops and vectors.

Probe, poster, the browser-playable rendition (in a thread beside the analysis), people found and tracked by
reid_core, then Track/Snapshot rows, crops and the case's index from the engine's VideoIngest. Safe to run
again after a crash at any point; on failure or cancel the partial results are removed and the video says
why. The footage services queue it (start_ingest); the Celery task runs it through jobs.run.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from reid_core.types import Box, ReidError, VideoIngest
from reid_core.types import Snapshot as EngineSnapshot
from webapp.cases.models import Case
from webapp.engine import get_engine
from webapp.footage import index_store, media
from webapp.footage.job_hooks import CANCELLED_MESSAGE
from webapp.footage.models import Snapshot, Track, Video, VideoStatus, video_dir
from webapp.jobs import services as jobs
from webapp.jobs.models import Job

logger = logging.getLogger(__name__)

# Share of the job's progress bar per stage (measured on the PETS clip: analysis dominates).
# The rendition runs beside the analysis (see _Rendition); "transcode" only shows when it finishes later.
INGEST_WEIGHTS = {"probe": 0.01, "analyse": 0.9, "transcode": 0.04, "index": 0.05}


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
        index_store.bring_up_to_date(case_id=video.case_id, reporter=reporter)
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


def _analyse(video: Video, reporter: jobs.Reporter) -> VideoIngest:
    return get_engine().ingest(
        Path(video.original.path), video=str(video.pk), progress=reporter, should_stop=reporter.should_stop
    )


def store_ingest(*, video: Video, result: VideoIngest, models: dict[str, Any] | None = None) -> None:
    """Store a reid_core VideoIngest of the video: Track/Snapshot rows, crops, and the case's index.

    ``models`` is the engine's models_info(), recorded in the case catalog when the index is created and
    checked against it afterwards (vectors of two embedders must never share an index).
    """

    crops_dir = Path(settings.MEDIA_ROOT) / video_dir(video) / "crops"
    wanted: dict[int, list[tuple[tuple[float, float, float, float], Path]]] = {}
    by_track: dict[int, list[EngineSnapshot]] = {}
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
        index_store.change_case_index(video.case_id, index_store.add_ingest(result), models)


def _box(box: Box) -> list[float]:
    return [round(float(v), 1) for v in box]




def _remove_results(video: Video) -> None:
    """Remove everything an ingest attempt produced: rows, crops and the video's vectors."""
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=video.case_id)
        Track.objects.filter(video=video).delete()  # snapshots go with their tracks
        index_store.change_case_index(video.case_id, index_store.forget_video(video.pk), None)
    folder = Path(settings.MEDIA_ROOT) / video_dir(video)
    shutil.rmtree(folder / "crops", ignore_errors=True)
    for partial in folder.glob(".*.part"):  # a rendition or poster whose writer was killed
        partial.unlink(missing_ok=True)


def _fail_video(video_id: int, message: str) -> None:
    Video.objects.filter(pk=video_id).update(status=VideoStatus.FAILED, error=message)
