"""Calibrate the similarity words of each embedder on labelled pairs, so the words mean what they say.

    python bench/calibrate_bands.py                    # every embedder found; table + TOML on stdout
    python bench/calibrate_bands.py --embedders omz_reid_0277 --json out.json

Pairs of ground-truth crops, scored by cosine similarity:
- PETS09-S2L1 (one camera): crops of ids with >= 30 boxes, every 4th box; pairs of one id more than 20 frames
  apart are "same person"; pairs of two ids that are in the picture at the same moment are "different
  people" (PETS gives a person who leaves and comes back a new id, so two ids never seen together may be
  one person: such pairs are left out).
- WILDTRACK C1-C4: clean crops; only pairs from two different cameras (the cross-camera case); ids are
  shared across cameras, so every pair is labelled.
For a threshold t, precision = the share of same-person pairs among the pairs scoring >= t (the mix of a
real search: most people in footage are not the one searched for). Each band starts at the lowest t from
which precision stays at or above its level on EACH data set (at least MIN_SUPPORT pairs above t in each):
"very_similar" (the words "Likely the same person") 0.9, "similar" 0.5, "somewhat_similar" 0.2.
A band whose level is never reached is set to 1.01: never shown. The appearance-only embedder's top band
is always off (it never says "same person"). Paste the printed [model.bands] into the manifest.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from embedder_bench import SHARED, pets_crops

LEVELS = {"very_similar": 0.9, "similar": 0.5, "somewhat_similar": 0.2}
MIN_SUPPORT = 20
NEVER = 1.01
EMBEDDERS = [
    "omz_reid_0277",
    "omz_reid_0286",
    "omz_reid_0287",
    "osnet_x0_5_msmt17",
    "osnet_x0_25_msmt17",
    "mobilenetv2_colour",
]


def pets_pairs(
    vectors: np.ndarray, ids: np.ndarray, frames: np.ndarray, together: set[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    sims = vectors @ vectors.T
    i, j = np.triu_indices(len(ids), k=1)
    same = ids[i] == ids[j]
    seen_together = np.array([(a, b) in together for a, b in zip(ids[i], ids[j], strict=True)])
    keep = np.where(same, np.abs(frames[i] - frames[j]) > 20, seen_together)
    return sims[i, j][keep], same[keep]


def pets_together() -> set[tuple[int, int]]:
    """Pairs of PETS ids with ground-truth boxes in the same frame: certainly two people."""
    from reid_core.eval.mot import load_mot_gt

    by_frame: dict[int, set[int]] = {}
    for g in load_mot_gt(SHARED / "data" / "pets09_s2l1" / "gt.txt"):
        by_frame.setdefault(g.frame, set()).add(g.id)
    return {(a, b) for ids in by_frame.values() for a in ids for b in ids if a != b}


def wildtrack_pairs(vectors: np.ndarray, ids: np.ndarray, cams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sims = vectors @ vectors.T
    i, j = np.triu_indices(len(ids), k=1)
    keep = cams[i] != cams[j]
    return sims[i, j][keep], (ids[i] == ids[j])[keep]


def wildtrack_crops() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    from reid_core.embed import crop
    from reid_core.eval.xcam import load_cameras
    from reid_core.video import iter_frames

    crops, ids, cams = [], [], []
    for ci, cam in enumerate(load_cameras(SHARED / "data" / "wildtrack_c1-c4")):
        clean = [r for r in cam.rows if r.clean]
        frames = {f.index: f.image for f in iter_frames(cam.footage, images="gallery")}
        crops += [crop(frames[r.frame], r.box) for r in clean]
        ids += [r.id for r in clean]
        cams += [ci] * len(clean)
    return crops, np.array(ids), np.array(cams)


def precision_at(scores: np.ndarray, same: np.ndarray, t: float) -> tuple[float, int]:
    above = scores >= t
    n = int(above.sum())
    return (float(same[above].mean()) if n else float("nan")), n


def threshold(sets: list[tuple[np.ndarray, np.ndarray]], level: float) -> float:
    """Lowest t (0.01 steps) from which precision stays >= level on every set, with MIN_SUPPORT pairs above
    t in each (higher t, where a set has fewer pairs, do not count against it)."""
    best = NEVER
    for t in np.arange(0.99, -1.0, -0.01):
        cells = [precision_at(scores, same, float(t)) for scores, same in sets]
        if any(n < MIN_SUPPORT for _, n in cells):
            continue
        if any(p < level for p, _ in cells):
            break
        best = round(float(t), 2)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedders", nargs="+", default=EMBEDDERS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", f"{SHARED / 'models'}{os.pathsep}{SHARED / 'models' / 'omz'}")

    from reid_core.models import resolve
    from reid_core.pipeline import EngineSettings, make_embedder

    pcrops, pids, pframes, _ = pets_crops()
    every = np.arange(len(pids)) % 2 == 0  # pets_crops keeps every 2nd box; this keeps every 4th
    pcrops = [c for c, k in zip(pcrops, every, strict=True) if k]
    pids, pframes = pids[every], pframes[every]
    wcrops, wids, wcams = wildtrack_crops()
    together = pets_together()
    out: dict[str, Any] = {}
    for name in args.embedders:
        model = resolve(name)
        embedder = make_embedder(model, EngineSettings(), args.threads)
        ps, psame = pets_pairs(embedder.embed(pcrops), pids, pframes, together)
        ws, wsame = wildtrack_pairs(embedder.embed(wcrops), wids, wcams)
        scores, same = np.concatenate([ps, ws]), np.concatenate([psame, wsame])
        bands = {k: threshold([(ps, psame), (ws, wsame)], level) for k, level in LEVELS.items()}
        if model.spec.appearance_only:
            bands["very_similar"] = NEVER
        # A lower band never starts above a higher one.
        bands["similar"] = min(bands["similar"], bands["very_similar"])
        bands["somewhat_similar"] = min(bands["somewhat_similar"], bands["similar"])
        rows = []
        for band, t in bands.items():
            cells = [precision_at(s, m, t) for s, m in ((ps, psame), (ws, wsame), (scores, same))]
            recall = float((scores[same] >= t).mean())
            rows.append(
                {
                    "band": band,
                    "from": t,
                    "precision": [c[0] for c in cells],
                    "pairs_above": [c[1] for c in cells],
                    "same_person_pairs_reached": recall,
                }
            )
        out[name] = {
            "bands": bands,
            "rows": rows,
            "pairs": {"pets": len(ps), "wildtrack": len(ws)},
            "same_pairs": {"pets": int(psame.sum()), "wildtrack": int(wsame.sum())},
        }
        print(
            f"\n{name}  (pairs: PETS {len(ps)} of which {int(psame.sum())} same; WILDTRACK across cameras "
            f"{len(ws)} of which {int(wsame.sum())} same)"
        )
        print(
            "| band | from score | precision PETS | precision WILDTRACK | precision pooled "
            "| same-person pairs reached |"
        )
        print("|---|---|---|---|---|---|")
        for r in rows:
            fmt = ["-" if np.isnan(v) else f"{v:.2f}" for v in r["precision"]]
            shown = "never shown" if r["from"] >= 1.0 else f"{r['from']:.2f}"
            print(
                f"| {r['band']} | {shown} | {fmt[0]} | {fmt[1]} | {fmt[2]} "
                f"| {r['same_person_pairs_reached']:.2f} |"
            )
        print("[model.bands]")
        for k, v in bands.items():
            print(f"{k} = {v}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
