"""The moment-retrieval protocol of `reid eval-video` (leak-free), plus detection and tracking metrics.

For each ground-truth id with >= min_boxes boxes, the query is the crop of its largest box among the first
quarter of its boxes. Snapshots within +-window frames of the query frame are not used and those frames are
not scored. Tracks are ranked by the engine's score; a track frame is correct where its box has IoU >= 0.5
with the id's ground-truth box. Frame AP accumulates precision and recall down the ranked tracks (recall
over the id's ground-truth frames; a frame found twice counts once); moment recall@K is the share of the
id's frames covered by the top K tracks.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid_core.detect import Detection
from reid_core.eval.mot import GtBox, TrackingMetrics, detection_ap50, iou, load_mot_gt, tracking_metrics
from reid_core.pipeline import Engine
from reid_core.search import SnapshotRef, TrackScoring, k_reciprocal_rerank, score_tracks, track_vectors
from reid_core.types import Frame, Track, VideoIngest
from reid_core.video import iter_frames


@dataclass(frozen=True)
class QueryResult:
    gt_id: int
    query_frame: int
    frames: int  # the id's scored ground-truth frames
    ap: float
    recall_at_1: float
    recall_at_5: float


@dataclass(frozen=True)
class VideoEval:
    video: str
    queries: list[QueryResult]
    frame_ap: float
    recall_at_1: float
    recall_at_5: float
    detection_ap50: float
    tracking: TrackingMetrics
    detections: int
    embed_calls: int
    tracks: int
    frames_analysed: int
    ingest_s: float
    settings: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Query:
    gt_id: int
    frame: int
    box: tuple[float, float, float, float]


def pick_queries(gt: list[GtBox], min_boxes: int = 30) -> list[_Query]:
    by_id: dict[int, list[GtBox]] = defaultdict(list)
    for g in gt:
        by_id[g.id].append(g)
    out = []
    for gid in sorted(by_id):
        boxes = sorted(by_id[gid], key=lambda g: g.frame)
        if len(boxes) < min_boxes:
            continue
        early = boxes[: max(1, len(boxes) // 4)]
        best = max(early, key=lambda g: g.box[2] * g.box[3])
        out.append(_Query(gid, best.frame, best.box))
    return out


def rank_tracks(
    query: np.ndarray,
    ingest: VideoIngest,
    exclude_frames: tuple[int, int],
    scoring: TrackScoring,
    rerank: bool,
) -> list[int]:
    """Track ids best first, using only snapshots outside the excluded frame range."""
    lo, hi = exclude_frames
    keep = [s for s in ingest.snapshots if not lo <= s.frame <= hi]
    if not keep:
        return []
    refs = [SnapshotRef(ingest.video, s.track_id, s.snapshot, s.frame) for s in keep]
    vectors = np.stack([s.vector for s in keep]).astype(np.float32)
    ranked = score_tracks(query, vectors, refs, scoring)
    if not rerank:
        return [ts.key[1] for ts in ranked]
    keys, tvecs = track_vectors(vectors, refs)
    dist = k_reciprocal_rerank(query, tvecs)
    return [keys[i][1] for i in np.argsort(dist, kind="stable")]


def score_query(
    order: list[int], tracks: dict[int, Track], gt_frames: dict[int, tuple[float, float, float, float]]
) -> tuple[float, float, float]:
    """(frame AP, recall@1, recall@5) of one ranked list against the id's scored ground-truth frames.

    tracks hold only their scored frames (the query window already removed).
    """
    total = len(gt_frames)
    found: set[int] = set()
    tp = shown = 0
    ap = 0.0
    r1 = r5 = 0.0
    for rank, tid in enumerate(order, 1):
        hits = 0
        frames = tracks[tid].frames
        for f in frames:
            g = gt_frames.get(f.frame)
            if g is not None and f.frame not in found and iou(f.box, g) >= 0.5:
                found.add(f.frame)
                hits += 1
        shown += len(frames)
        tp += hits
        if hits and shown:
            ap += (tp / shown) * (hits / total)
        if rank == 1:
            r1 = len(found) / total
        if rank == 5:
            r5 = len(found) / total
    if len(order) < 5:
        r5 = len(found) / total
        if not order:
            r1 = 0.0
    return ap, r1, r5


def evaluate_video(
    engine: Engine,
    video: Path,
    gt_path: Path,
    *,
    window: int = 20,
    min_boxes: int = 30,
    scoring: TrackScoring | None = None,
    rerank: bool = False,
) -> VideoEval:
    """Index the video with the engine, then run the protocol (see the module docstring)."""
    detections: dict[int, list[Detection]] = {}

    def keep(frame: Frame, dets: list[Detection]) -> None:
        detections[frame.index] = dets

    started = time.perf_counter()
    ingest = engine.ingest(video, video=Path(video).name, on_frame=keep)
    ingest_s = time.perf_counter() - started
    return evaluate_ingest(
        engine,
        ingest,
        detections,
        video,
        gt_path,
        window=window,
        min_boxes=min_boxes,
        scoring=scoring,
        rerank=rerank,
        ingest_s=ingest_s,
    )


def evaluate_ingest(
    engine: Engine,
    ingest: VideoIngest,
    detections: dict[int, list[Detection]],
    video: Path,
    gt_path: Path,
    *,
    window: int = 20,
    min_boxes: int = 30,
    scoring: TrackScoring | None = None,
    rerank: bool = False,
    ingest_s: float = 0.0,
) -> VideoEval:
    """The protocol on an ingest already made (detections: every analysed frame's raw detections)."""
    gt = load_mot_gt(gt_path)
    scoring = scoring or engine.settings.scoring
    tracks = {t.track_id: t for t in ingest.tracks}
    queries = pick_queries(gt, min_boxes)

    # Query crops come from the decoded frames, exactly as the footage shows them.
    wanted = {q.frame for q in queries}
    images = {f.index: f.image for f in iter_frames(video) if f.index in wanted}
    results = []
    for q in queries:
        qvec = engine.query_vector(images[q.frame], q.box)
        lo, hi = q.frame - window, q.frame + window
        gt_frames = {g.frame: g.box for g in gt if g.id == q.gt_id and not lo <= g.frame <= hi}
        order = rank_tracks(qvec, ingest, (lo, hi), scoring, rerank)
        scored_tracks = {
            tid: Track(tid, [f for f in tracks[tid].frames if not lo <= f.frame <= hi]) for tid in order
        }
        ap, r1, r5 = score_query(order, scored_tracks, gt_frames)
        results.append(QueryResult(q.gt_id, q.frame, len(gt_frames), ap, r1, r5))
    analysed = sorted(detections)
    all_frames = list(range(ingest.stats.frames_decoded))
    return VideoEval(
        video=str(video),
        queries=results,
        frame_ap=float(np.mean([r.ap for r in results])) if results else 0.0,
        recall_at_1=float(np.mean([r.recall_at_1 for r in results])) if results else 0.0,
        recall_at_5=float(np.mean([r.recall_at_5 for r in results])) if results else 0.0,
        detection_ap50=detection_ap50({f: detections[f] for f in analysed}, gt),
        tracking=tracking_metrics(ingest.tracks, gt, all_frames),
        detections=ingest.stats.detections,
        embed_calls=ingest.stats.embed_calls,
        tracks=len(ingest.tracks),
        frames_analysed=ingest.stats.frames_analysed,
        ingest_s=ingest_s,
        settings={"scoring": scoring, "rerank": rerank, "window": window, "min_boxes": min_boxes},
    )
