"""How snapshot choice and track scoring move the eval-video figures (PETS09-S2L1, accurate pack).

Indexes the video once (the engine's linked tracks), embeds every detected box of every track once, then
replays the eval-video protocol with different snapshot choices per whole track (K by quality, K at random
with several seeds, every frame) and track scorings (max, mean). The random draws show how much the figures
move from the choice of snapshots alone. (The engine itself takes K per piece of a track, see
bench/tracking_ablation.py.)

    python bench/retrieval_ablation.py [--seeds 4]
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--k", type=int, default=3)
    a = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", str(SHARED / "models"))

    from reid_core.detect import Detection
    from reid_core.embed import crop
    from reid_core.eval.mot import load_mot_gt
    from reid_core.eval.video_eval import pick_queries, score_query
    from reid_core.pipeline import Engine
    from reid_core.search import SnapshotRef, score_tracks
    from reid_core.snapshot import Candidate, SnapshotSettings, choose, covered_fraction, quality
    from reid_core.types import Track, TrackFrame
    from reid_core.video import iter_frames

    video, gt_path = SHARED / "data" / "pets09_s2l1" / "vtest.avi", SHARED / "data" / "pets09_s2l1" / "gt.txt"
    engine = Engine.load("accurate", threads=os.cpu_count())
    ingest = engine.ingest(video, video="v")
    tracks = {t.track_id: t for t in ingest.tracks}
    gt = load_mot_gt(gt_path)
    queries = pick_queries(gt)

    # Every real (not interpolated) track box, embedded once, with its snapshot quality.
    by_frame: dict[int, list[tuple[int, TrackFrame]]] = {}
    for t in ingest.tracks:
        for f in t.frames:
            if f.score > 0:
                by_frame.setdefault(f.frame, []).append((t.track_id, f))
    feats: dict[tuple[int, int], np.ndarray] = {}
    qual: dict[tuple[int, int], float] = {}
    images = {}
    wanted = {q.frame for q in queries}
    settings = SnapshotSettings(k=a.k)
    for frame in iter_frames(video):
        if frame.index in wanted:
            images[frame.index] = frame.image
        items = by_frame.get(frame.index, [])
        if not items:
            continue
        h, w = frame.image.shape[:2]
        crops = [crop(frame.image, f.box) for _, f in items]
        vecs = engine.embedder.embed(crops)
        boxes = [f.box for _, f in items]
        for i, ((tid, f), v, c) in enumerate(zip(items, vecs, crops, strict=True)):
            feats[(tid, f.frame)] = v
            others = boxes[:i] + boxes[i + 1 :]
            qual[(tid, f.frame)] = quality(Detection(f.box, f.score), c, others, w, h, settings)
            assert covered_fraction(f.box, others) >= 0
    qvecs = {q.gt_id: engine.query_vector(images[q.frame], q.box) for q in queries}

    Select = Callable[[Track], list[int]]

    def real(t: Track) -> list[TrackFrame]:
        return [f for f in t.frames if f.score > 0]

    def by_quality(t: Track) -> list[int]:
        cands = [
            Candidate(f.frame, f.t, f.box, qual[(t.track_id, f.frame)], np.zeros(0, np.uint8))
            for f in real(t)
        ]
        return [c.frame for c in choose(cands, a.k)]

    def at_random(seed: int) -> Select:
        def pick(t: Track) -> list[int]:
            frames = real(t)
            return [
                f.frame
                for f in random.Random(seed * 100_003 + t.track_id).sample(frames, min(a.k, len(frames)))
            ]

        return pick

    def every_frame(t: Track) -> list[int]:
        return [f.frame for f in real(t)]

    def evaluate(select: Select, scoring: str) -> np.ndarray:
        chosen = {tid: select(t) for tid, t in tracks.items()}
        out = []
        for q in queries:
            lo, hi = q.frame - 20, q.frame + 20
            gt_frames = {g.frame: g.box for g in gt if g.id == q.gt_id and not lo <= g.frame <= hi}
            refs, vecs = [], []
            for tid, frames in chosen.items():
                for n, fr in enumerate(frames):
                    if not lo <= fr <= hi:
                        refs.append(SnapshotRef("v", tid, n, fr))
                        vecs.append(feats[(tid, fr)])
            ranked = score_tracks(qvecs[q.gt_id], np.stack(vecs).astype(np.float32), refs, scoring)  # type: ignore[arg-type]
            order = [ts.key[1] for ts in ranked]
            scored = {
                tid: Track(tid, [f for f in tracks[tid].frames if not lo <= f.frame <= hi]) for tid in order
            }
            out.append(score_query(order, scored, gt_frames))
        return np.mean(out, axis=0)

    print(f"{len(tracks)} tracks, {len(feats)} boxes embedded, {len(queries)} queries")
    print(f"{'snapshots':24s} {'scoring':6s} {'frame AP':>8s} {'R@1':>6s} {'R@5':>6s}")
    runs: list[tuple[str, Select]] = [(f"K={a.k} per track by quality", by_quality)]
    runs += [(f"K={a.k} at random, seed {s}", at_random(s)) for s in range(1, a.seeds + 1)]
    runs += [("every frame", every_frame)]
    for name, select in runs:
        for scoring in ("max", "mean"):
            ap, r1, r5 = evaluate(select, scoring)
            print(f"{name:24s} {scoring:6s} {ap:8.3f} {r1:6.3f} {r5:6.3f}", flush=True)


if __name__ == "__main__":
    main()
