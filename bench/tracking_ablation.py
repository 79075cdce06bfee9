"""How tracking, piece linking, track filtering, snapshots and scoring move the eval-video figures.

PETS09-S2L1, accurate pack. Every variant runs the real engine (Engine.ingest with other EngineSettings)
and the real eval-video protocol; only the models are memoised: each frame is detected once and each crop
embedded once (keyed by their pixels), so a variant costs decoding and tracking, not inference. The first
variant is the engine as it was before linking (no pieces, no links, tracks of 3 frames kept).

Also prints the similarity of candidate links between pieces (within the gap and reach of
reid_core.link), split by whether both pieces belong to the same ground-truth person: the basis of
LinkSettings.min_similarity.

--spread measures how much of a difference is noise: each retrieval setting runs over seven phases of the
snapshot time buckets (0.7 to 1.3 s), which changes which crops become snapshots and nothing else, and is
compared with the defaults run for run (mean, spread, and in how many of the seven runs it beat them).
It also scores the defaults without the track frames that fall where the ground truth never labels anyone
(above the highest labelled foot line, the far end of the square): a diagnostic beside the protocol, not
a replacement for it.

    python bench/tracking_ablation.py [--quick | --spread]
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="only the before/after rows and the link statistics")
    p.add_argument("--spread", action="store_true", help="retrieval settings over 7 snapshot phases (noise)")
    p.add_argument("--pack", default="accurate", choices=["accurate", "default"])
    a = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", str(SHARED / "models"))

    from reid_core.detect import Detection
    from reid_core.eval.mot import iou, load_mot_gt
    from reid_core.eval.video_eval import VideoEval, evaluate_ingest
    from reid_core.link import LinkSettings
    from reid_core.pipeline import Engine, EngineSettings
    from reid_core.track import TrackerSettings
    from reid_core.types import Image, Vectors, VideoIngest

    video, gt_path = SHARED / "data" / "pets09_s2l1" / "vtest.avi", SHARED / "data" / "pets09_s2l1" / "gt.txt"
    gt = load_mot_gt(gt_path)
    gt_by_frame = defaultdict(list)
    for g in gt:
        gt_by_frame[g.frame].append(g)
    base = Engine.load(a.pack, threads=os.cpu_count())

    def key(image: Image) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() + bytes(
            str(image.shape), "ascii"
        )

    class MemoDetector:
        def __init__(self) -> None:
            self.memo: dict[bytes, list[Detection]] = {}

        def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
            out = []
            for f in frames:
                k = key(f)
                if k not in self.memo:
                    self.memo[k] = base.detector.detect([f])[0]
                out.append(self.memo[k])
            return out

    class MemoEmbedder:
        """Counts calls as the real embedder would (flip doubles them)."""

        def __init__(self, flip: bool) -> None:
            self.dim = base.embedder.dim
            self.flip = flip
            self.calls = 0
            self.memo: dict[bytes, Vectors] = {}
            self.real = Engine.load(a.pack, settings=EngineSettings(flip=flip)).embedder
            self.flip = flip and hasattr(self.real, "flip")  # the default pack's embedder has no flip

        def embed(self, crops: Sequence[Image]) -> Vectors:
            self.calls += len(crops) * (2 if self.flip else 1)
            keys = [key(c) for c in crops]
            todo = [i for i, k in enumerate(keys) if k not in self.memo]
            if todo:
                for i, v in zip(todo, self.real.embed([crops[i] for i in todo]), strict=True):
                    self.memo[keys[i]] = v
            return np.stack([self.memo[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    memo_detector = MemoDetector()

    class Thresholded:
        """The memoised detections (down to 0.1) above the variant's own detector threshold."""

        def __init__(self, conf: float) -> None:
            self.conf = conf

        def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
            return [[d for d in ds if d.score >= self.conf] for ds in memo_detector.detect(frames)]

    embedders = {True: MemoEmbedder(True), False: MemoEmbedder(False)}

    def evaluate(settings: EngineSettings, exact: bool = False) -> tuple[VideoEval, VideoIngest, Engine]:
        engine = Engine(base.pack, Thresholded(settings.detector_conf), embedders[settings.flip], settings)
        if exact:
            engine.settings = settings  # as given, also what Engine adjusts for the appearance-only pack
        dets: dict[int, list[Detection]] = {}
        ingest = engine.ingest(video, video=video.name, on_frame=lambda f, d: dets.__setitem__(f.index, d))
        detections.update(dets)
        return evaluate_ingest(engine, ingest, dets, video, gt_path), ingest, engine

    detections: dict[int, list[Detection]] = {}

    def run(name: str, settings: EngineSettings, exact: bool = False) -> None:
        r, ingest, _ = evaluate(settings, exact)
        t = r.tracking
        # Mixed tracks: a second ground-truth person in at least a tenth of the track's matched frames.
        mixed = 0
        for track in ingest.tracks:
            votes: dict[int, int] = defaultdict(int)
            for f in track.frames:
                for g in gt_by_frame.get(f.frame, []):
                    if iou(f.box, g.box) >= 0.5:
                        votes[g.id] += 1
            counts = sorted(votes.values(), reverse=True)
            mixed += len(counts) > 1 and counts[1] >= 0.1 * sum(counts)
        hota = f"{t.hota:.3f}" if t.hota is not None else "n/a"
        print(
            f"{name:44s} {r.frame_ap:6.3f} {r.recall_at_1:6.3f} {r.recall_at_5:6.3f} {t.mota:6.3f} "
            f"{t.idf1:6.3f} {hota:>6s} {r.tracks:6d} {mixed:6d} {r.embed_calls:6d}",
            flush=True,
        )

    now = EngineSettings()
    # No links but the tracker's own continuations, and no continuations either ...
    no_link = LinkSettings(min_pairs=10**9, min_similarity=2.0)
    before = replace(  # ... since nothing is cut: the engine before pieces and linking
        now, snapshots=replace(now.snapshots, split_covered=None), link=no_link, min_track_s=0.0, flip=True
    )
    if a.spread:
        spread(now, evaluate, detections)
        return
    print(
        f"{'variant':44s} {'AP':>6s} {'R@1':>6s} {'R@5':>6s} {'MOTA':>6s} {'IDF1':>6s} {'HOTA':>6s} "
        f"{'tracks':>6s} {'mixed':>6s} {'calls':>6s}"
    )
    run("before: ByteTrack tracks as they come", before)
    run("now (defaults)", now)
    if base.pack is not None and base.pack.appearance_only:
        cut = replace(now.snapshots, split_covered=0.2)
        run("now, with the accurate pack's cuts", replace(now, snapshots=cut), exact=True)

    def variants() -> None:
        for tag, scoring in (("max", "max"), ("mean_top2", "mean_top2")):
            run(f"now, scoring {tag}", replace(now, scoring=scoring))  # type: ignore[arg-type]
        run("now, flip averaging", replace(now, flip=True))
        run("now, K=2 per piece", replace(now, snapshots=replace(now.snapshots, k=2)))
        run("now, K=4 per piece", replace(now, snapshots=replace(now.snapshots, k=4)))
        for cov in (0.1, 0.3, 0.5):
            cut = replace(now.snapshots, split_covered=cov)
            run(f"now, cut at covered {cov}", replace(now, snapshots=cut))
        run(
            "now, no cuts (link fragments only)",
            replace(now, snapshots=replace(now.snapshots, split_covered=None)),
        )
        for q in (0.8, 0.95):
            quantile = replace(now.link, different_quantile=q)
            run(f"now, link threshold quantile {q}", replace(now, link=quantile))
        for sim in (0.6, 0.7, 0.8):
            fixed = replace(now.link, min_similarity=sim, min_pairs=10**9)
            run(f"now, fixed link similarity {sim}", replace(now, link=fixed))
        for gap in (1.0, 4.0):
            run(f"now, link gap {gap} s", replace(now, link=replace(now.link, max_gap_s=gap)))
        for m in (0.0, 2.0):
            run(f"now, min track {m} s", replace(now, min_track_s=m))
        run("before + min track 1 s", replace(before, min_track_s=1.0))
        run("before, no flip", replace(before, flip=False))
        for hi, match, buf in (
            (0.4, 0.8, 1.0),
            (0.6, 0.8, 1.0),
            (0.5, 0.7, 1.0),
            (0.5, 0.9, 1.0),
            (0.5, 0.8, 2.0),
        ):
            tr = TrackerSettings(high_threshold=hi, match_threshold=match, lost_buffer_s=buf)
            run(f"before, ByteTrack high {hi} match {match} buffer {buf} s", replace(before, tracker=tr))
            run(f"now, ByteTrack high {hi} match {match} buffer {buf} s", replace(now, tracker=tr))
        for conf in (0.2, 0.3):
            run(f"before, detector threshold {conf}", replace(before, detector_conf=conf))
            run(f"now, detector threshold {conf}", replace(now, detector_conf=conf))

    if not a.quick:
        variants()

    # Similarity of candidate links, by ground truth (the pieces' majority identity).
    from reid_core.link import Piece

    by_id: dict[int, dict[int, tuple[float, float, float, float]]] = defaultdict(dict)
    for g in gt:
        by_id[g.id][g.frame] = g.box
    captured: list[list[Piece]] = []

    import reid_core.pipeline as pipeline_module

    real_link = pipeline_module.link

    def spy(pieces: Sequence[Piece], settings: LinkSettings | None = None) -> list[list[int]]:
        captured.append(list(pieces))
        return real_link(pieces, settings)

    pipeline_module.link = spy  # type: ignore[assignment]
    Engine(base.pack, memo_detector, embedders[now.flip], now).ingest(video, video=video.name)
    pipeline_module.link = real_link
    pieces = captured[0]

    def identity(piece: Piece) -> int | None:
        votes: dict[int, int] = defaultdict(int)
        for f in piece.frames:
            for gid, frames in by_id.items():
                if f.frame in frames and iou(f.box, frames[f.frame]) >= 0.5:
                    votes[gid] += 1
        return max(votes, key=lambda g: votes[g]) if votes else None

    ids = [identity(pc) for pc in pieces]
    loose = replace(now.link, min_similarity=-1.0)
    same, diff = [], []
    means = np.stack([pc.mean_vector for pc in pieces])
    for i, pa in enumerate(pieces):
        for j, pb in enumerate(pieces):
            if ids[i] is None or ids[j] is None or i == j:
                continue
            end, start = pa.frames[-1], pb.frames[0]
            gap = start.t - end.t
            if start.frame <= end.frame or gap > loose.max_gap_s:
                continue
            dx = end.box[0] + end.box[2] / 2 - start.box[0] - start.box[2] / 2
            dy = end.box[1] + end.box[3] - start.box[1] - start.box[3]
            if np.hypot(dx, dy) > loose.max_step_heights * max(end.box[3], start.box[3]) * (1 + gap):
                continue
            (same if ids[i] == ids[j] else diff).append(float(means[i] @ means[j]))
    print(f"\ncandidate links between {len(pieces)} pieces (default cuts): similarity percentiles")
    print(
        f"  same person      n={len(same):4d}  p10 {np.percentile(same, 10):.2f}  p50 {np.median(same):.2f}"
    )
    print(
        f"  different people n={len(diff):4d}  p50 {np.median(diff):.2f}  p90 {np.percentile(diff, 90):.2f}"
    )
    from reid_core.link import link_threshold

    threshold = link_threshold(pieces, means, now.link)
    print(f"  link threshold (90th percentile of pieces of different tracks seen at once): {threshold:.2f}")


PHASES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)  # snapshot bucket lengths in seconds; 1.0 is the default


def spread(now: Any, evaluate: Callable[..., Any], detections: dict[int, list[Any]]) -> None:
    """Each retrieval setting over the snapshot phases, compared with the defaults run for run."""

    def at(phase: float, **snap: Any) -> Any:
        return replace(now, snapshots=replace(now.snapshots, bucket_s=phase, **snap))

    settings: dict[str, Callable[[float], Any]] = {
        "defaults (K=3 per piece, mean)": lambda b: at(b),
        "K=2 per piece": lambda b: at(b, k=2),
        "K=4 per piece": lambda b: at(b, k=4),
        "K=6 per piece": lambda b: at(b, k=6),
        "snapshot size not preferred": lambda b: at(b, full_height_px=1.0),
        "flip averaging": lambda b: replace(at(b), flip=True),
        "scoring max": lambda b: replace(at(b), scoring="max"),
        "scoring mean of top 2": lambda b: replace(at(b), scoring="mean_top2"),
    }
    print(f"frame AP over snapshot phases {', '.join(map(str, PHASES))} s (defaults: 1.0)")
    print(
        f"{'setting':32s} {'mean':>6s} {'sd':>6s} {'min':>6s} {'max':>6s} {'vs def':>7s} {'wins':>5s} "
        f"{'R@5':>6s} {'IDF1':>6s} {'calls':>6s}  per phase"
    )
    defaults: np.ndarray | None = None
    unlabelled = []
    for name, make in settings.items():
        rows = []
        for phase in PHASES:
            r, ingest, engine = evaluate(make(phase))
            rows.append((r.frame_ap, r.recall_at_5, r.tracking.idf1, r.embed_calls))
            if defaults is None:
                unlabelled.append(ap_without_unlabelled(ingest, engine, detections))
        m = np.array(rows)
        defaults = m if defaults is None else defaults
        ap, diff = m[:, 0], m[:, 0] - defaults[:, 0]
        print(
            f"{name:32s} {ap.mean():6.3f} {ap.std():6.3f} {ap.min():6.3f} {ap.max():6.3f} "
            f"{diff.mean():+7.3f} {int((diff > 5e-4).sum()):>2d}/{len(PHASES)} {m[:, 1].mean():6.3f} "
            f"{m[:, 2].mean():6.3f} {m[:, 3].mean():6.0f}  " + " ".join(f"{x:.3f}" for x in ap),
            flush=True,
        )
    u = np.array(unlabelled)
    print(
        "\ndefaults, not scoring track frames above the highest labelled foot line: "
        f"frame AP mean {u.mean():.3f} (sd {u.std():.3f}); per phase " + " ".join(f"{x:.3f}" for x in u)
    )


def ap_without_unlabelled(ingest: Any, engine: Any, detections: dict[int, list[Any]]) -> float:
    """Frame AP with the track frames whose foot point lies above every ground-truth box's foot point left
    out: the labels stop there (no one at the far end of PETS's square is labelled), so those frames are
    neither right nor wrong. A diagnostic beside the protocol, not a replacement for it."""
    from reid_core.eval.mot import load_mot_gt
    from reid_core.eval.video_eval import evaluate_ingest
    from reid_core.types import Track

    video, gt_path = SHARED / "data" / "pets09_s2l1" / "vtest.avi", SHARED / "data" / "pets09_s2l1" / "gt.txt"
    line = min(g.box[1] + g.box[3] for g in load_mot_gt(gt_path))
    tracks = [Track(t.track_id, [f for f in t.frames if f.box[1] + f.box[3] >= line]) for t in ingest.tracks]
    kept = replace(ingest, tracks=tracks)
    return float(evaluate_ingest(engine, kept, detections, video, gt_path).frame_ap)


if __name__ == "__main__":
    main()
