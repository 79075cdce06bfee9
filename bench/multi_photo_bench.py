"""Two photos of one person against one: does fusing them (what `reid search --query A --query B` and the
page's "Add a photo of the same person" do) find the person better in the remaining cameras?

    python bench/multi_photo_bench.py [--embedder NAME]

WILDTRACK C1-C4 (shared folder), clean ground-truth crops. For every person with clean crops in at least
three cameras and every pair of cameras (A, B) that show them: photo A = the person's largest crop
in A, photo B = the largest in B; the gallery is every clean crop of the OTHER cameras (neither A nor B).
Each query (A alone, B alone, A+B fused as the engine fuses them) is scored by average precision over the
gallery; the table gives the mean over the same pairs, and how often the fused query beat the better and
the worse of the two single photos.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def average_precision(sims: np.ndarray, good: np.ndarray) -> float:
    order = np.argsort(-sims, kind="stable")
    hits = good[order]
    positions = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(positions) + 1) / positions)) if len(positions) else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedder", default=None, help="default: the trained pack's")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", f"{SHARED / 'models'}{os.pathsep}{SHARED / 'models' / 'omz'}")

    from reid_core.embed import crop
    from reid_core.eval.xcam import load_cameras
    from reid_core.pipeline import Engine
    from reid_core.video import iter_frames

    engine = Engine.load("trained", threads=a.threads, embedder=a.embedder)
    rows = []  # (camera, id, area, vector)
    for cam in load_cameras(SHARED / "data" / "wildtrack_c1-c4"):
        clean = [r for r in cam.rows if r.clean]
        frames = {f.index: f.image for f in iter_frames(cam.footage, images="gallery")}
        vecs = engine.embedder.embed([crop(frames[r.frame], r.box) for r in clean])
        rows += [(cam.name, r.id, r.box[2] * r.box[3], v) for r, v in zip(clean, vecs, strict=True)]
    cams = np.array([r[0] for r in rows])
    ids = np.array([r[1] for r in rows])
    vectors = np.stack([r[3] for r in rows])
    best: dict[tuple[int, str], int] = {}
    for i, (cam, gid, area, _) in enumerate(rows):
        if (gid, cam) not in best or area > rows[best[(gid, cam)]][2]:
            best[(gid, cam)] = i
    seen: dict[int, list[str]] = defaultdict(list)
    for gid, cam in best:
        seen[gid].append(cam)
    single, fused, beat_best, beat_worse = [], [], 0, 0
    for gid, where in sorted(seen.items()):
        if len(where) < 3:
            continue
        for cam_a, cam_b in itertools.combinations(sorted(where), 2):
            gallery = (cams != cam_a) & (cams != cam_b)
            good = ids[gallery] == gid
            if not good.any():
                continue
            qa, qb = vectors[best[(gid, cam_a)]], vectors[best[(gid, cam_b)]]
            g = vectors[gallery]
            ap_a, ap_b = average_precision(g @ qa, good), average_precision(g @ qb, good)
            ap_f = average_precision(g @ engine.fused_query([qa, qb]), good)
            single.append((ap_a + ap_b) / 2)
            fused.append(ap_f)
            beat_best += ap_f > max(ap_a, ap_b) + 1e-9
            beat_worse += ap_f > min(ap_a, ap_b) + 1e-9
    n = len(fused)
    name = engine.pack.embedder.spec.name if engine.pack else "?"
    print(f"embedder {name}; {n} (person, camera pair) cases, gallery = the other cameras")
    print("| query | mean AP over the same cases |")
    print("|---|---|")
    print(f"| one photo (A or B, averaged) | {np.mean(single):.3f} |")
    print(f"| two photos fused (A+B) | {np.mean(fused):.3f} |")
    print(
        f"fused better than the better single photo in {beat_best} of {n}, "
        f"than the worse in {beat_worse} of {n}"
    )


if __name__ == "__main__":
    main()
