"""Every embedder the product knows, on the same protocols, to choose the default by measurement.

    python bench/embedder_bench.py                     # all embedders, table on stdout
    python bench/embedder_bench.py --json out.json --embedders omz_reid_0277 osnet_x0_25_msmt17

Per embedder, in one run on this machine:
- WILDTRACK C1-C4 (shared folder), ReID on clean ground-truth crops, each against the OTHER cameras' crops
  (mAP / rank-1): the cross-camera case (reid_core.eval.xcam.crop_reid, as `reid eval-xcam`).
- The same data end to end: each camera indexed by the engine with that embedder (detector: YOLOX-nano for
  trained embedders, NanoDet for the appearance pack's), frame AP and recall@5 across cameras.
- PETS09-S2L1 ground-truth crops, same camera (every 2nd box, ids with >= 30 boxes; query = the largest box
  in the first quarter of the id's boxes; gallery = every other crop outside +-20 frames of the query).
- Cost per crop, 256x128, batched 16 at a time, with the threads given (median of 5 rounds of 64 crops).
Models are looked up in REID_MODELS_DIRS (default: the shared models folder) and the bundled ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
EMBEDDERS = [
    "osnet_x0_25_msmt17",
    "osnet_x0_5_msmt17",
    "omz_reid_0277",
    "omz_reid_0286",
    "omz_reid_0287",
    "mobilenetv2_colour",
]


def pets_crops() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """PETS ground-truth crops (every 2nd box of ids with >= 30 boxes): images, ids, frames, box areas."""
    from reid_core.embed import crop
    from reid_core.eval.mot import load_mot_gt
    from reid_core.video import iter_frames

    pets = SHARED / "data" / "pets09_s2l1"
    gt = load_mot_gt(pets / "gt.txt")
    counts: dict[int, int] = defaultdict(int)
    for g in gt:
        counts[g.id] += 1
    rows = [g for g in gt if counts[g.id] >= 30]
    by_id: dict[int, list[Any]] = defaultdict(list)
    for g in sorted(rows, key=lambda g: g.frame):
        by_id[g.id].append(g)
    keep = [g for boxes in by_id.values() for g in boxes[::2]]
    wanted = {g.frame for g in keep}
    frames = {f.index: f.image for f in iter_frames(pets / "vtest.avi") if f.index in wanted}
    return (
        [crop(frames[g.frame], g.box) for g in keep],
        np.array([g.id for g in keep]),
        np.array([g.frame for g in keep]),
        np.array([g.box[2] * g.box[3] for g in keep]),
    )


def pets_map(
    vectors: np.ndarray, ids: np.ndarray, frames: np.ndarray, areas: np.ndarray, window: int = 20
) -> tuple[float, float]:
    """mAP / rank-1 of one query per id (largest box of its first quarter) against the other crops."""
    aps, r1 = [], []
    for gid in sorted(set(ids.tolist())):
        idx = np.flatnonzero(ids == gid)  # in frame order
        early = idx[: max(1, len(idx) // 4)]
        q = int(early[np.argmax(areas[early])])
        sims = vectors @ vectors[q]
        gallery = np.flatnonzero(np.abs(frames - frames[q]) > window)
        order = gallery[np.argsort(-sims[gallery], kind="stable")]
        good = ids[order] == gid
        if not good.any():
            continue
        positions = np.flatnonzero(good) + 1
        aps.append(float(np.mean(np.arange(1, len(positions) + 1) / positions)))
        r1.append(float(good[0]))
    return float(np.mean(aps)), float(np.mean(r1))


def cost_ms(embedder: Any, crops: list[np.ndarray]) -> float:
    sample = [crops[i % len(crops)] for i in range(64)]
    embedder.embed(sample[:16])  # warm up
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(0, 64, 16):
            embedder.embed(sample[i : i + 16])
        rounds.append((time.perf_counter() - t) / 64 * 1000)
    return statistics.median(rounds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedders", nargs="+", default=EMBEDDERS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", f"{SHARED / 'models'}{os.pathsep}{SHARED / 'models' / 'omz'}")

    from reid_core.eval.xcam import crop_reid, evaluate_xcam, load_cameras
    from reid_core.pipeline import Engine

    wildtrack = SHARED / "data" / "wildtrack_c1-c4"
    cameras = load_cameras(wildtrack)
    crops, ids, frames, areas = pets_crops()
    rows = []
    for name in args.embedders:
        pack = "appearance" if name == "mobilenetv2_colour" else "trained"
        engine = Engine.load(pack, threads=args.threads, embedder=name)
        xc = crop_reid(engine.embedder, cameras)
        e2e = evaluate_xcam(engine, wildtrack)
        vecs = engine.embedder.embed(crops)
        pm, pr1 = pets_map(vecs, ids, frames, areas)
        row = {
            "embedder": name,
            "detector": engine.pack.detector.spec.name if engine.pack else "?",
            "wildtrack_crops_mAP": round(xc.mAP, 3),
            "wildtrack_crops_rank1": round(xc.rank1, 3),
            "wildtrack_frame_ap": round(e2e.frame_ap, 3),
            "wildtrack_recall_at_5": round(e2e.recall_at_5, 3),
            "pets_crops_mAP": round(pm, 3),
            "pets_crops_rank1": round(pr1, 3),
            "ms_per_crop_batched": round(cost_ms(engine.embedder, crops), 2),
            "dim": engine.embedder.dim,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["embedder"] == "osnet_x0_25_msmt17"), None)
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"threads {args.threads}"
    )
    print(
        "| embedder | WILDTRACK crops mAP / rank-1 | x of x0.25 | WILDTRACK end to end frame AP / R@5 | "
        "PETS crops mAP / rank-1 | ms a crop (batch 16) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['wildtrack_crops_mAP'] / base['wildtrack_crops_mAP']:.2f}x" if base else "-"
        print(
            f"| {r['embedder']} | {r['wildtrack_crops_mAP']:.3f} / {r['wildtrack_crops_rank1']:.3f} "
            f"| {ratio} | "
            f"{r['wildtrack_frame_ap']:.3f} / {r['wildtrack_recall_at_5']:.3f} | "
            f"{r['pets_crops_mAP']:.3f} / {r['pets_crops_rank1']:.3f} | {r['ms_per_crop_batched']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
