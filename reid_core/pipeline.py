"""The engine: ingest footage (decode, detect, track, snapshot, embed) and search it with a photo.

The only module that knows every stage. Progress is reported through a callback and work can be
cancelled through should_stop, both checked once per analysed frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid_core.detect import Detection, Detector
from reid_core.embed import Embedder, OnnxReidEmbedder, crop
from reid_core.models import Pack, ResolvedModel, choose_pack
from reid_core.snapshot import SnapshotPool, SnapshotSettings
from reid_core.track import Tracker, TrackerSettings
from reid_core.types import (
    Box,
    CancelledError,
    EmptyFootageError,
    Frame,
    Image,
    IngestStats,
    NoPersonError,
    Progress,
    QueryCandidate,
    Snapshot,
    Track,
    TrackFrame,
    Vectors,
    VideoIngest,
)
from reid_core.video import iter_frames, probe

ProgressFn = Callable[[Progress], None]
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class EngineSettings:
    # Every frame of 10 fps CCTV is analysed: at lower rates ByteTrack's IoU matching loses walkers.
    analysis_fps: float | None = 10.0
    # ByteTrack's second association uses boxes down to 0.1; tracks start only above high + 0.1.
    detector_conf: float = 0.1
    nms_iou: float = 0.45
    min_box_px: float = 8.0
    query_min_score: float = 0.3  # people in a query photo
    flip: bool = True  # mirror averaging for snapshot and query embeddings
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    snapshots: SnapshotSettings = field(default_factory=SnapshotSettings)


def make_detector(model: ResolvedModel, settings: EngineSettings, threads: int | None) -> Detector:
    family = model.spec.family
    if family == "yolox":
        from reid_core.detectors.yolox import YoloxDetector

        return YoloxDetector(
            model,
            conf=settings.detector_conf,
            nms_iou=settings.nms_iou,
            min_size=settings.min_box_px,
            threads=threads,
        )
    raise ValueError(f"no detector adapter for model family {family!r} ({model.spec.name})")


def make_embedder(model: ResolvedModel, settings: EngineSettings, threads: int | None) -> Embedder:
    return OnnxReidEmbedder(model, flip=settings.flip, threads=threads)


class _Clock:
    """Wall time per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._t
        self._t = now


class Engine:
    def __init__(
        self,
        pack: Pack | None,
        detector: Detector,
        embedder: Embedder,
        settings: EngineSettings | None = None,
    ) -> None:
        self.pack = pack
        self.detector = detector
        self.embedder = embedder
        self.settings = settings or EngineSettings()

    @classmethod
    def load(
        cls,
        pack: str = "auto",
        dirs: Sequence[Path] | None = None,
        threads: int | None = None,
        settings: EngineSettings | None = None,
    ) -> Engine:
        settings = settings or EngineSettings()
        chosen = choose_pack(pack, dirs=dirs)  # type: ignore[arg-type]
        return cls(
            chosen,
            make_detector(chosen.detector, settings, threads),
            make_embedder(chosen.embedder, settings, threads),
            settings,
        )

    @property
    def embed_calls(self) -> int:
        return int(getattr(self.embedder, "calls", 0))

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        path: Path | str,
        *,
        video: str,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        on_frame: Callable[[Frame, list[Detection]], None] | None = None,
    ) -> VideoIngest:
        """Index one video, image or folder of images. on_frame sees every analysed frame's detections."""
        path = Path(path)
        info = probe(path)
        s = self.settings
        rate = s.analysis_fps if not info.is_gallery else None
        if rate is not None and info.fps is not None and rate >= info.fps:
            rate = None  # every frame
        track_fps = rate or info.fps or 10.0
        tracker = Tracker(track_fps, s.tracker) if not info.is_gallery else None
        pool = SnapshotPool(s.snapshots)
        times: list[float] = []
        tracks: list[Track] = []
        snapshots: list[Snapshot] = []
        clock = _Clock()
        started = time.perf_counter()
        calls_before = self.embed_calls
        analysed = detections = 0
        frames = iter_frames(path, rate, times)
        total = info.frame_count

        def finish(done: list[Track]) -> None:
            for track in done:
                chosen = pool.take(track.track_id)
                if chosen:
                    vecs = self.embedder.embed([c.image for c in chosen])
                    for n, (c, v) in enumerate(zip(chosen, vecs, strict=True)):
                        snapshots.append(Snapshot(track.track_id, n, c.frame, c.t, c.box, c.quality, v))
                    tracks.append(track)
            clock.lap("embed")

        next_gallery_id = 1
        while True:
            frame = next(frames, None)
            clock.lap("decode")
            if frame is None:
                break
            if should_stop is not None and should_stop():
                raise CancelledError(f"{path}: ingest cancelled after {analysed} analysed frames")
            dets = self.detector.detect([frame.image])[0]
            clock.lap("detect")
            analysed += 1
            detections += len(dets)
            if on_frame is not None:
                on_frame(frame, dets)
            if tracker is None:
                # Still images: every person is a one-frame track and its own snapshot.
                tracked = []
                for d in dets:
                    tracked.append((next_gallery_id, d))
                    next_gallery_id += 1
                pool.offer(frame.image, frame.index, frame.t, tracked)
                clock.lap("snapshot")
                finish([Track(tid, [TrackFrame(frame.index, frame.t, d.box, d.score)]) for tid, d in tracked])
            else:
                tracked = tracker.update(frame.index, frame.t, dets)
                clock.lap("track")
                pool.offer(frame.image, frame.index, frame.t, tracked)
                clock.lap("snapshot")
                finish(tracker.finished(times))
                pool.retain(tracker.open_ids())
            if progress is not None:
                elapsed = time.perf_counter() - started
                done = frame.index + 1
                fps = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / fps if total and fps > 0 else None
                progress(Progress("analyse", done, total, fps, eta))
        if tracker is not None:
            finish(tracker.close(times))
        if not times:
            raise EmptyFootageError(f"{path}: no frame could be decoded")
        tracks.sort(key=lambda tr: tr.track_id)
        snapshots.sort(key=lambda sn: (sn.track_id, sn.snapshot))
        stats = IngestStats(
            frames_decoded=len(times),
            frames_analysed=analysed,
            detections=detections,
            tracks=len(tracks),
            embed_calls=self.embed_calls - calls_before,
            seconds=dict(clock.seconds),
        )
        duration = info.duration_s if info.duration_s is not None else (times[-1] if times else 0.0)
        return VideoIngest(
            video=video,
            path=str(path),
            width=info.width,
            height=info.height,
            duration_s=float(duration),
            analysis_fps=rate,
            tracks=tracks,
            snapshots=snapshots,
            stats=stats,
        )

    # ------------------------------------------------------------------ queries

    def find_people(self, image: Image) -> list[QueryCandidate]:
        """People in a query photo, largest first."""
        dets = [d for d in self.detector.detect([image])[0] if d.score >= self.settings.query_min_score]
        dets.sort(key=lambda d: -(d.box[2] * d.box[3]))
        return [QueryCandidate(box=d.box, score=d.score) for d in dets]

    def query_vector(self, image: Image, box: Box | None = None) -> Vectors:
        """Embedding of the person in a query photo: the given box, else the only or largest person.

        A photo that is already a tight crop of one person (tall, filled by the detected box) is used whole.
        """
        if box is None:
            people = self.find_people(image)
            if not people:
                raise NoPersonError("no person found in the query photo; use a photo showing a whole person")
            box = people[0].box
            h, w = image.shape[:2]
            if box[2] * box[3] >= 0.5 * w * h:
                box = (0.0, 0.0, float(w), float(h))
        return np.asarray(self.embedder.embed([crop(image, box)])[0], dtype=np.float32)
