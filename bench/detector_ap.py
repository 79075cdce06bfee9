"""Person detection AP at IoU 0.5 of a manifest detector on PETS09-S2L1 (all frames), with latency.

    python bench/detector_ap.py [--model nanodet_g_416] [--every 1] [--threads 2]

Uses the real video and MOT ground truth from SIGHTLINE_SHARED_DIR (default <repo>/../shared). AP is the
all-point interpolated area under precision/recall over every box scoring >= 0.05 (greedy matching by
score, one ground-truth box per detection), the VOC/COCO AP50 definition. The full evaluation CLI
(`reid eval-video`) also reports tracking metrics; this is the quick detector-only check.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from reid_core.detect import Detection
from reid_core.detectors.nanodet import NanoDetDetector
from reid_core.detectors.yolox import YoloxDetector
from reid_core.models import resolve

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one x,y,w,h box against many."""
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return np.asarray(inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter))


def average_precision(
    dets: dict[int, list[Detection]], gt: dict[int, np.ndarray], thr: float = 0.5
) -> dict[str, float]:
    records: list[tuple[float, bool]] = []
    n_gt = sum(len(g) for g in gt.values())
    for frame, found in dets.items():
        boxes = gt.get(frame, np.zeros((0, 4)))
        used = np.zeros(len(boxes), dtype=bool)
        for d in sorted(found, key=lambda d: -d.score):
            hit = False
            if len(boxes):
                ious = iou(np.array(d.box), boxes)
                ious[used] = 0
                j = int(ious.argmax())
                if ious[j] >= thr:
                    used[j], hit = True, True
            records.append((d.score, hit))
    records.sort(key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in records])
    fp = np.cumsum([not r[1] for r in records])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1)
    # All-point interpolation: precision made monotone from the right, summed over recall steps.
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [recall[-1] if len(recall) else 0.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    ap = float(np.sum((mrec[1:] - mrec[:-1]) * mprec[1:]))
    at = [r for r in records if r[0] >= 0.3]
    tp03 = sum(r[1] for r in at)
    return {"ap50": ap, "recall@0.3": tp03 / n_gt, "precision@0.3": tp03 / max(len(at), 1), "gt": n_gt}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="nanodet_g_416")
    ap.add_argument("--every", type=int, default=1, help="analyse every Nth frame")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data = SHARED / "data" / "pets09_s2l1"
    resolved = resolve(args.model, dirs=[SHARED / "models"])
    cls = NanoDetDetector if resolved.spec.family == "nanodet" else YoloxDetector
    detector = cls(resolved, conf=0.05, threads=args.threads)
    gt: dict[int, list[list[float]]] = defaultdict(list)
    for line in (data / "gt.txt").read_text().splitlines():
        f = line.split(",")
        gt[int(f[0]) - 1].append([float(v) for v in f[2:6]])
    cap = cv2.VideoCapture(str(data / "vtest.avi"))
    dets: dict[int, list[Detection]] = {}
    times: list[float] = []
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % args.every == 0:
            t0 = time.perf_counter()
            dets[index] = detector.detect([frame])[0]
            times.append(time.perf_counter() - t0)
        index += 1
    gt_used = {k: np.array(v) for k, v in gt.items() if k in dets}
    res = average_precision(dets, gt_used)
    print(f"# {args.model} on PETS09-S2L1, {len(dets)} frames, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores (shared), ort threads {args.threads}"
    )
    print(
        f"AP50 {res['ap50']:.3f}  recall@0.3 {res['recall@0.3']:.3f}"
        f"  precision@0.3 {res['precision@0.3']:.3f}  gt boxes {res['gt']}"
        f"  median latency {statistics.median(times) * 1000:.1f} ms/frame"
    )


if __name__ == "__main__":
    main()
