"""MOTChallenge ground truth and the detection / tracking metrics computed against it."""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reid_core.detect import Detection
from reid_core.types import Box, FootageError, ReidError, Track


@dataclass(frozen=True)
class GtBox:
    frame: int  # 0-based decoded frame index (MOT files count from 1)
    id: int
    box: Box


@dataclass(frozen=True)
class MotRow:
    frame: int  # 1-based, as in the file
    id: int
    box: Box
    conf: float
    rest: tuple[str, ...]  # the columns after conf (class, visibility or world coordinates)


def read_mot_rows(path: Path) -> list[MotRow]:
    """Every row frame,id,left,top,width,height,conf[,...] of a MOTChallenge file; FootageError names the
    file and line of a row that is not one."""
    out = []
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise FootageError(f"{path}: cannot read ground truth ({exc})") from exc
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            frame, gid = int(float(parts[0])), int(float(parts[1]))
            x, y, w, h, conf = (float(v) for v in parts[2:7])
        except (ValueError, IndexError) as exc:
            raise FootageError(f"{path}:{n}: not a MOTChallenge row ({line!r})") from exc
        out.append(MotRow(frame, gid, (x, y, w, h), conf, tuple(p.strip() for p in parts[7:])))
    return out


def load_mot_gt(path: Path) -> list[GtBox]:
    """Rows frame,id,left,top,width,height,conf[,...]; conf 0 rows (ignore regions) are dropped."""
    out = []
    for row in read_mot_rows(path):
        if row.rest and row.rest[0] not in ("", "1", "-1") and float(row.rest[0]) >= 2:
            continue  # MOT17: only class 1 (pedestrian) counts
        if row.conf > 0:
            out.append(GtBox(row.frame - 1, row.id, row.box))
    return out


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)))
    A, B = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ix = np.clip(
        np.minimum(A[:, None, 0] + A[:, None, 2], B[None, :, 0] + B[None, :, 2])
        - np.maximum(A[:, None, 0], B[None, :, 0]),
        0,
        None,
    )
    iy = np.clip(
        np.minimum(A[:, None, 1] + A[:, None, 3], B[None, :, 1] + B[None, :, 3])
        - np.maximum(A[:, None, 1], B[None, :, 1]),
        0,
        None,
    )
    inter = ix * iy
    union = (A[:, 2] * A[:, 3])[:, None] + (B[:, 2] * B[:, 3])[None, :] - inter
    out: np.ndarray = inter / np.maximum(union, 1e-12)
    return out


def detection_ap50(detections: Mapping[int, Sequence[Detection]], gt: Sequence[GtBox]) -> float:
    """VOC-style all-point AP at IoU 0.5 over the frames that were analysed."""
    by_frame: dict[int, list[Box]] = defaultdict(list)
    for gb in gt:
        if gb.frame in detections:
            by_frame[gb.frame].append(gb.box)
    n_gt = sum(len(v) for v in by_frame.values())
    scored: list[tuple[float, bool]] = []
    for frame, dets in detections.items():
        gts = by_frame.get(frame, [])
        used = [False] * len(gts)
        for d in sorted(dets, key=lambda d: -d.score):
            best, best_j = 0.5, -1
            for j, g in enumerate(gts):
                o = iou(d.box, g)
                if not used[j] and o >= best:
                    best, best_j = o, j
            if best_j >= 0:
                used[best_j] = True
            scored.append((d.score, best_j >= 0))
    if n_gt == 0:
        return 0.0
    scored.sort(key=lambda s: -s[0])
    tp = np.cumsum([s[1] for s in scored])
    fp = np.cumsum([not s[1] for s in scored])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1)
    # All-point interpolation: precision envelope, integrated over recall steps.
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@dataclass(frozen=True)
class TrackingMetrics:
    mota: float
    idf1: float
    hota: float | None  # None where TrackEval is not installed
    hota_note: str


def tracking_metrics(tracks: Sequence[Track], gt: Sequence[GtBox], frames: Sequence[int]) -> TrackingMetrics:
    """MOTA and IDF1 from py-motmetrics, HOTA from TrackEval, over the given frames."""
    try:
        import motmetrics as mm
    except ImportError:
        raise ReidError("tracking metrics need py-motmetrics: pip install 'motmetrics>=1.4'") from None

    gt_by: dict[int, list[GtBox]] = defaultdict(list)
    for gb in gt:
        gt_by[gb.frame].append(gb)
    tr_by: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    for tr in tracks:
        for f in tr.frames:
            tr_by[f.frame].append((tr.track_id, f.box))
    acc = mm.MOTAccumulator(auto_id=True)
    sims: list[np.ndarray] = []
    gt_ids: list[np.ndarray] = []
    tr_ids: list[np.ndarray] = []
    for frame in frames:
        g, t = gt_by.get(frame, []), tr_by.get(frame, [])
        m = iou_matrix([x.box for x in g], [x[1] for x in t])
        dist = np.where(m >= 0.5, 1 - m, np.nan)
        acc.update([x.id for x in g], [x[0] for x in t], dist)
        sims.append(m)
        gt_ids.append(np.array([x.id for x in g], dtype=int))
        tr_ids.append(np.array([x[0] for x in t], dtype=int))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1"], name="all")
    hota, note = _hota(sims, gt_ids, tr_ids)
    return TrackingMetrics(float(summary["mota"].iloc[0]), float(summary["idf1"].iloc[0]), hota, note)


def _hota(
    sims: list[np.ndarray], gt_ids: list[np.ndarray], tr_ids: list[np.ndarray]
) -> tuple[float | None, str]:
    try:
        # TrackEval prints a notice about optional datasets on import; keep it off stdout (--json output).
        with contextlib.redirect_stdout(io.StringIO()):
            from trackeval.metrics import HOTA  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None, "TrackEval not installed (pip install --no-deps trackeval)"
    # TrackEval wants ids renumbered 0..n-1 per sequence.
    g_all = np.unique(np.concatenate(gt_ids)) if gt_ids else np.array([], dtype=int)
    t_all = np.unique(np.concatenate(tr_ids)) if tr_ids else np.array([], dtype=int)
    g_map = {int(v): i for i, v in enumerate(g_all)}
    t_map = {int(v): i for i, v in enumerate(t_all)}
    data = {
        "num_timesteps": len(sims),
        "num_gt_ids": len(g_all),
        "num_tracker_ids": len(t_all),
        "num_gt_dets": int(sum(len(g) for g in gt_ids)),
        "num_tracker_dets": int(sum(len(t) for t in tr_ids)),
        "gt_ids": [np.array([g_map[int(v)] for v in g], dtype=int) for g in gt_ids],
        "tracker_ids": [np.array([t_map[int(v)] for v in t], dtype=int) for t in tr_ids],
        "similarity_scores": sims,
    }
    res = HOTA().eval_sequence(data)
    return float(np.mean(res["HOTA"])), "TrackEval HOTA (mean over alpha 0.05..0.95)"
