"""The engine: ingest footage (decode, detect, track, snapshot, embed) and search it with a photo.

The only module that knows every stage. Progress is reported through a callback and work can be
cancelled through should_stop, both checked once per analysed frame. It is long because ingest is one loop
over frames whose stages share state (open tracks, pending snapshots, the clock); the stages themselves live
in their own modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from reid_core.catalog import Catalog
from reid_core.detect import Detection, Detector
from reid_core.embed import Embedder, ReidEmbedder, crop, l2_normalise
from reid_core.index import VectorIndex, VectorKey
from reid_core.index_folder import check_compatible
from reid_core.link import LinkSettings, Piece, link
from reid_core.models import Pack, ResolvedModel, choose_pack
from reid_core.search import TrackScoring, rank_moments
from reid_core.snapshot import Candidate, Segment, SnapshotPool, SnapshotSettings
from reid_core.track import Tracker, TrackerSettings, interpolate
from reid_core.types import (
    Box,
    CancelledError,
    EmptyFootageError,
    FootageError,
    Frame,
    Image,
    IngestStats,
    Moment,
    NoPersonError,
    Progress,
    QueryCandidate,
    ReidError,
    Snapshot,
    Track,
    TrackFrame,
    Vectors,
    VideoIngest,
)
from reid_core.video import ImagesMode, iter_frames, prefetch, probe

ProgressFn = Callable[[Progress], None]
_NO_PIXELS: Image = np.zeros((0, 0, 3), dtype=np.uint8)
StopFn = Callable[[], bool]
EMBED_BATCH = 32  # crops of ended tracks embedded together


@dataclass(frozen=True)
class EngineSettings:
    # Every frame of 10 fps CCTV is analysed: at lower rates ByteTrack's IoU matching loses walkers.
    analysis_fps: float | None = 10.0
    # ByteTrack's second association uses boxes down to 0.1; tracks start only above high + 0.1.
    detector_conf: float = 0.1
    nms_iou: float = 0.45
    min_box_px: float = 8.0
    query_min_score: float = 0.3  # people in a query photo
    # Mean similarity over a track's snapshots ranked best on PETS (docs/engine.md has the comparison).
    scoring: TrackScoring = "mean"
    # Mirror averaging of snapshot and query embeddings doubles the embedding calls and did not help on PETS
    # once tracks are linked (bench/tracking_ablation.py: frame AP 0.59 with it, 0.62 without).
    flip: bool = False
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    snapshots: SnapshotSettings = field(default_factory=SnapshotSettings)
    link: LinkSettings = field(default_factory=LinkSettings)
    # After linking, tracks detected for less than this are dropped: such a moment is of little use, and
    # these are mostly leftovers of crossings whose few crops rank above whole tracks.
    min_track_s: float = 1.0
    interpolate_gap_s: float = 1.0  # fill short gaps linearly (ByteTrack's own post-processing)


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
    if family == "nanodet":
        from reid_core.detectors.nanodet import NanoDetDetector

        return NanoDetDetector(
            model,
            conf=settings.detector_conf,
            nms_iou=settings.nms_iou,
            min_size=settings.min_box_px,
            threads=threads,
        )
    raise ValueError(f"no detector adapter for model family {family!r} ({model.spec.name})")


def make_embedder(model: ResolvedModel, settings: EngineSettings, threads: int | None) -> Embedder:
    if model.spec.family == "mobilenetv2_colour":
        from reid_core.embedders.appearance import AppearanceEmbedder

        return AppearanceEmbedder(model, threads=threads)
    # Any other embedder follows the generic ONNX ReID contract declared in its manifest entry.
    return ReidEmbedder(model, flip=settings.flip, threads=threads)


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
        settings = settings or EngineSettings()
        if pack is not None and pack.appearance_only:
            # Undoing swaps at crossings needs an embedder that tells people apart; the appearance-only
            # pack made more mixed tracks than it undid (docs/engine.md), so it only links fragments.
            settings = replace(settings, snapshots=replace(settings.snapshots, split_covered=None))
        self.settings = settings

    @classmethod
    def load(
        cls,
        pack: str = "auto",
        dirs: Sequence[Path] | None = None,
        threads: int | None = None,
        settings: EngineSettings | None = None,
        embedder: str | None = None,
    ) -> Engine:
        settings = settings or EngineSettings()
        chosen = choose_pack(pack, dirs=dirs, embedder=embedder)
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
        images: ImagesMode = "auto",
    ) -> VideoIngest:
        """Index one video, image or folder of images. on_frame sees every analysed frame's detections.

        images: how a folder of images is read (reid_core.video.probe): each photo on its own (a gallery,
        where every person found is searchable) or as frames of one camera (tracked like a video).
        """
        path = Path(path)
        info = probe(path, images)
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
        pieces: list[Piece] = []
        piece_snaps: list[list[Candidate]] = []
        clock = _Clock()
        started = time.perf_counter()
        calls_before = self.embed_calls
        analysed = detections = 0
        frames = prefetch(iter_frames(path, rate, times, images))  # decoding overlaps detection
        total = info.frame_count

        # Ended tracks wait here until EMBED_BATCH crops are pending: one network call for several tracks
        # (batched inference costs far less a crop than one small call per track). Order is kept, so the
        # pieces come out exactly as if each track were embedded at once.
        pending: list[tuple[Track, list[Segment]]] = []
        pending_crops = 0

        def finish(done: list[Track], *, flush: bool = False) -> None:
            """Queue the chosen snapshots of each piece of each ended track; embed when enough wait."""
            nonlocal pending_crops
            for track in done:
                segments = [seg for seg in pool.take(track.track_id) if seg.chosen]
                if segments:
                    pending.append((track, segments))
                    pending_crops += sum(len(seg.chosen) for seg in segments)
            if pending and (flush or pending_crops >= EMBED_BATCH):
                vecs = self.embedder.embed(
                    [c.image for _, segs in pending for seg in segs for c in seg.chosen]
                )
                n = 0
                for track, segments in pending:
                    for i, seg in enumerate(segments):
                        end = segments[i + 1].first_frame if i + 1 < len(segments) else None
                        part = [
                            f
                            for f in track.frames
                            if f.frame >= seg.first_frame and (end is None or f.frame < end)
                        ]
                        k = len(seg.chosen)
                        # The crops are not needed any more: keep only where each snapshot came from.
                        chosen = [Candidate(c.frame, c.t, c.box, c.quality, _NO_PIXELS) for c in seg.chosen]
                        pieces.append(Piece(track.track_id, part, np.asarray(vecs[n : n + k])))
                        piece_snaps.append(chosen)
                        n += k
                pending.clear()
                pending_crops = 0
            clock.lap("embed")

        try:
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
                    # Still images: every person found (at the confidence a query photo asks) is a one-frame
                    # track and its own snapshot: a photo is one chance, no track has to start first.
                    tracked = []
                    for d in (d for d in dets if d.score >= s.query_min_score):
                        tracked.append((next_gallery_id, d))
                        next_gallery_id += 1
                    pool.offer(frame.image, frame.index, frame.t, tracked)
                    clock.lap("snapshot")
                    finish(
                        [Track(tid, [TrackFrame(frame.index, frame.t, d.box, d.score)]) for tid, d in tracked]
                    )
                else:
                    tracked = tracker.update(frame.index, frame.t, dets)
                    clock.lap("track")
                    pool.offer(frame.image, frame.index, frame.t, tracked)
                    clock.lap("snapshot")
                    finish(tracker.finished())
                    pool.retain(tracker.open_ids())
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    done = frame.index + 1
                    fps = done / elapsed if elapsed > 0 else 0.0
                    eta = (total - done) / fps if total and fps > 0 else None
                    progress(Progress("analyse", done, total, fps, eta))
        finally:
            frames.close()  # stops the decoding thread, also on errors and cancellation
        finish(tracker.close() if tracker is not None else [], flush=True)
        if not times:
            raise EmptyFootageError(f"{path}: no frame could be decoded")
        if tracker is None:
            chains = [[i] for i in range(len(pieces))]  # a gallery: every image stands alone
            min_frames = 1
        else:
            chains = link(pieces, s.link)
            min_frames = max(s.tracker.min_track_frames, round(s.min_track_s * track_fps))
        chains = [c for c in chains if sum(len(pieces[i].frames) for i in c) >= min_frames]
        chains.sort(key=lambda c: (pieces[c[0]].frames[0].frame, pieces[c[0]].source_track))
        for track_id, chain in enumerate(chains, 1):
            joined = Track(track_id, [f for i in chain for f in pieces[i].frames])
            tracks.append(interpolate(joined, s.interpolate_gap_s, times) if tracker is not None else joined)
            chosen = [(c, v) for i in chain for c, v in zip(piece_snaps[i], pieces[i].vectors, strict=True)]
            for n, (c, v) in enumerate(chosen):
                snapshots.append(Snapshot(track_id, n, c.frame, c.t, c.box, c.quality, v))
        clock.lap("link")
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
            files=info.files,
        )

    # ------------------------------------------------------------------ queries

    def find_people(self, image: Image) -> list[QueryCandidate]:
        """People in a query photo, largest first."""
        dets = [d for d in self.detector.detect([image])[0] if d.score >= self.settings.query_min_score]
        dets.sort(key=lambda d: -(d.box[2] * d.box[3]))
        return [QueryCandidate(box=d.box, score=d.score) for d in dets]

    def _find_in_padded(self, image: Image) -> list[QueryCandidate]:
        """People in the photo placed on a larger grey canvas. A detector trained on scenes often misses,
        or finds only a part of, a person whose crop touches every edge of the photo; with room around
        them it sees the whole body. Boxes come back in the photo's coordinates, clipped to it."""
        h, w = image.shape[:2]
        top, side = h // 2, max(w, h // 2)
        canvas = np.full((h + 2 * top, w + 2 * side, 3), 114, dtype=np.uint8)
        canvas[top : top + h, side : side + w] = image
        found = []
        for c in self.find_people(canvas):
            x0, y0 = max(c.box[0] - side, 0.0), max(c.box[1] - top, 0.0)
            x1, y1 = min(c.box[0] + c.box[2] - side, float(w)), min(c.box[1] + c.box[3] - top, float(h))
            inside = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
            if inside >= 0.5 * c.box[2] * c.box[3]:  # mostly on the photo, not on the grey around it
                found.append(QueryCandidate(box=(x0, y0, x1 - x0, y1 - y0), score=c.score))
        return found

    def choose_query_box(self, image: Image) -> tuple[Box, list[QueryCandidate]]:
        """The person to search for in a photo: the only or largest one; the whole photo when it is a tight
        crop of one person (their box fills half of it, or spans most of its height and a good part of its
        width: an occluded or side-on person is narrower than their crop), found in the photo as it is or
        with room added around it. Also returns every candidate. NoPersonError when nobody is found.
        """
        h, w = image.shape[:2]
        whole = (0.0, 0.0, float(w), float(h))

        def fills(c: QueryCandidate) -> bool:
            bw, bh = c.box[2], c.box[3]
            return bool(bw * bh >= 0.5 * w * h or (bh >= 0.6 * h and bw >= 0.4 * w))

        people = self.find_people(image)
        if people and fills(people[0]):
            return whole, people
        if len(people) <= 1:
            # None found, or one that is only a part of the photo: it may be a tight crop (or a part of
            # the person, such as the torso, was all the detector saw).
            padded = self._find_in_padded(image)
            if padded and fills(padded[0]):
                return whole, padded
        if not people:
            raise NoPersonError("no person found in the query photo; use a photo showing a whole person")
        return people[0].box, people

    def query_vector(self, image: Image, box: Box | None = None) -> Vectors:
        """Embedding of the person in a query photo: the given box, else choose_query_box's."""
        if box is None:
            box = self.choose_query_box(image)[0]
        return np.asarray(self.embedder.embed([crop(image, box)])[0], dtype=np.float32)

    def fused_query(self, vectors: Sequence[Vectors]) -> Vectors:
        """One query from several photos of the same person (front and back, two cameras): the normalised
        mean of their embeddings, which scores a snapshot by its mean similarity to the photos."""
        if not vectors:
            raise ReidError("no query photo given")
        return l2_normalise(np.mean(np.stack(vectors), axis=0))

    def embed_places(
        self,
        path: Path | str,
        places: Sequence[tuple[int, Box]],
        *,
        progress: Callable[[int], None] | None = None,
        should_stop: StopFn | None = None,
    ) -> Vectors:
        """Embeddings of the given (frame index, box) crops of footage, in the order given: how an index
        built with another embedder is re-embedded without running detection and tracking again."""
        path = Path(path)
        wanted: dict[int, list[int]] = {}
        for n, (index, _) in enumerate(places):
            wanted.setdefault(index, []).append(n)
        out = np.zeros((len(places), self.embedder.dim), dtype=np.float32)
        crops: list[Image] = []
        rows: list[int] = []
        done = 0

        def flush() -> None:
            nonlocal done
            if crops:
                out[rows] = self.embedder.embed(crops)
                done += len(crops)
                crops.clear()
                rows.clear()
                if progress is not None:
                    progress(done)

        for frame in iter_frames(path, only=set(wanted)):
            if should_stop is not None and should_stop():
                raise CancelledError(f"{path}: re-embedding cancelled after {done} crops")
            for n in wanted[frame.index]:
                crops.append(crop(frame.image, places[n][1]))
                rows.append(n)
            if len(crops) >= 64:
                flush()
        flush()
        if done != len(places):
            raise FootageError(f"{path}: {len(places) - done} snapshot frames could not be decoded again")
        return out

    def models_info(self) -> dict[str, object]:
        """What an index built by this engine records about its models (search checks it matches)."""
        if self.pack is None:
            return {"pack": "custom", "dim": self.embedder.dim}
        return {
            "pack": self.pack.name,
            "detector": self.pack.detector.spec.name,
            "embedder": self.pack.embedder.spec.name,
            "dim": self.embedder.dim,
            "appearance_only": self.pack.appearance_only,
        }

    def search(
        self,
        index: VectorIndex,
        catalog: Catalog,
        image: Image,
        *,
        box: Box | None = None,
        top_k: int = 20,
        min_score: float | None = None,
        confirmed: Sequence[tuple[str, int]] = (),
        rejected: Sequence[tuple[str, int]] = (),
        rerank: bool = False,
        more_photos: Sequence[tuple[Image, Box | None]] = (),
    ) -> list[Moment]:
        """Ranked moments of the person in a query photo (see query_vector for how the person is found).

        confirmed / rejected: (video, track_id) hits a user marked; they expand the query (and rejected
        ones are left out). rerank: k-reciprocal re-ranking of the candidate tracks. more_photos: other
        photos of the same person (with their box, or None to find it), fused with the first.
        """
        check_compatible(catalog.models, self.models_info())
        query = self.query_vector(image, box)
        if more_photos:
            query = self.fused_query([query, *(self.query_vector(i, b) for i, b in more_photos)])
        return rank_moments(
            query,
            index,
            catalog,
            top_k=top_k,
            min_score=min_score,
            confirmed=confirmed,
            rejected=rejected,
            rerank=rerank,
            scoring=self.settings.scoring,
        )


def add_to_index(index: VectorIndex, catalog: Catalog, ingest: VideoIngest) -> None:
    """Store one ingested video: its snapshot vectors in the index, everything else in the catalog."""
    index.remove_video(ingest.video)
    if ingest.snapshots:
        keys = [VectorKey(ingest.video, s.track_id, s.snapshot) for s in ingest.snapshots]
        index.add(keys, np.stack([s.vector for s in ingest.snapshots]).astype(np.float32))
    catalog.add(ingest)
