"""PETS09-S2L1 `reid eval-video` figures of several embedders over the seven-phase spread, in one run.

    python bench/embedder_spread.py                                  # OSNet x0.25 against the default (0277)
    python bench/embedder_spread.py --embedders osnet_x0_25_msmt17 omz_reid_0277 omz_reid_0286

Each embedder runs the real engine and the real eval-video protocol over the seven snapshot phases of
bench/tracking_ablation.py --spread (snapshot bucket 0.7 .. 1.3 s: which crops become snapshots changes,
nothing else), with the same detector (YOLOX-nano, each frame detected once and shared), and is compared
with the first embedder run for run: mean, spread, and in how many of the seven runs it did better.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
PHASES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedders", nargs="+", default=["osnet_x0_25_msmt17", "omz_reid_0277"])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", str(SHARED / "models"))

    from reid_core.detect import Detection
    from reid_core.eval.video_eval import evaluate_ingest
    from reid_core.pipeline import Engine, EngineSettings
    from reid_core.types import Image

    video, gt = SHARED / "data" / "pets09_s2l1" / "vtest.avi", SHARED / "data" / "pets09_s2l1" / "gt.txt"
    memo: dict[bytes, list[Detection]] = {}
    first = Engine.load("trained", threads=a.threads)

    class MemoDetector:
        def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
            out = []
            for f in frames:
                k = hashlib.blake2b(np.ascontiguousarray(f).tobytes(), digest_size=16).digest()
                if k not in memo:
                    memo[k] = first.detector.detect([f])[0]
                out.append(memo[k])
            return out

    now = EngineSettings()
    print(f"frame AP over snapshot phases {', '.join(map(str, PHASES))} s (defaults: 1.0), PETS09-S2L1")
    print(
        f"{'embedder':22s} {'mean':>6s} {'sd':>6s} {'min':>6s} {'max':>6s} {'vs 1st':>7s} {'wins':>5s} "
        f"{'R@5':>6s} {'R@1':>6s} {'IDF1':>6s} {'calls':>6s}  per phase"
    )
    baseline: np.ndarray | None = None
    for name in a.embedders:
        loaded = Engine.load("trained", threads=a.threads, embedder=name)
        rows = []
        for phase in PHASES:
            settings = replace(now, snapshots=replace(now.snapshots, bucket_s=phase))
            engine = Engine(loaded.pack, MemoDetector(), loaded.embedder, settings)
            dets: dict[int, list[Detection]] = {}
            calls = engine.embed_calls
            ingest = engine.ingest(
                video, video=video.name, on_frame=lambda f, d, dets=dets: dets.__setitem__(f.index, d)
            )
            r = evaluate_ingest(engine, ingest, dets, video, gt)
            rows.append(
                (r.frame_ap, r.recall_at_5, r.recall_at_1, r.tracking.idf1, engine.embed_calls - calls)
            )
        m = np.array(rows)
        baseline = m if baseline is None else baseline
        ap, diff = m[:, 0], m[:, 0] - baseline[:, 0]
        print(
            f"{name:22s} {ap.mean():6.3f} {ap.std():6.3f} {ap.min():6.3f} {ap.max():6.3f} "
            f"{diff.mean():+7.3f} {int((diff > 5e-4).sum()):>2d}/{len(PHASES)} {m[:, 1].mean():6.3f} "
            f"{m[:, 2].mean():6.3f} {m[:, 3].mean():6.3f} {m[:, 4].mean():6.0f}  "
            + " ".join(f"{x:.3f}" for x in ap),
            flush=True,
        )


if __name__ == "__main__":
    main()
