"""Market-1501 layout evaluation (`reid eval-reid ROOT`) and a builder of such a set from MOT ground truth.

Layout: ROOT/query/*.jpg and ROOT/bounding_box_test/*.jpg named PPPP_cCsS_FFFFFF_NN.jpg (person id, camera).
Standard protocol: for each query, gallery images of the same id AND the same camera are junk (removed),
as are ids -1 (junk boxes); id 0 (distractors) stay as negatives. mAP and CMC over the queries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reid_core.embed import Embedder, crop
from reid_core.eval.mot import load_mot_gt
from reid_core.types import EmptyFootageError, FootageError
from reid_core.video import iter_frames, read_image

NAME = re.compile(r"^(-?\d+)_c(\d+)")
CMC_RANKS = (1, 5, 10)


@dataclass(frozen=True)
class MarketResult:
    root: str
    queries: int
    gallery: int
    mAP: float
    cmc: dict[int, float]


def _parse(path: Path) -> tuple[int, int]:
    m = NAME.match(path.name)
    if m is None:
        raise FootageError(f"{path}: not a Market-1501 file name (PPPP_cC...jpg)")
    return int(m.group(1)), int(m.group(2))


def _load(folder: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    if not folder.is_dir():
        raise EmptyFootageError(f"{folder}: missing (a Market-1501 root holds query/ and bounding_box_test/)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise EmptyFootageError(f"{folder}: no images")
    parsed = [_parse(p) for p in files]
    return files, np.array([p[0] for p in parsed]), np.array([p[1] for p in parsed])


def _embed_all(embedder: Embedder, files: list[Path], batch: int = 64) -> np.ndarray:
    parts = [
        embedder.embed([read_image(p) for p in files[i : i + batch]]) for i in range(0, len(files), batch)
    ]
    return np.concatenate(parts)


def market_metrics(
    q: np.ndarray, q_ids: np.ndarray, q_cams: np.ndarray, g: np.ndarray, g_ids: np.ndarray, g_cams: np.ndarray
) -> tuple[float, dict[int, float], int]:
    """(mAP, CMC at CMC_RANKS, queries with at least one valid match). Rows are L2-normalised."""
    sims = q @ g.T
    aps: list[float] = []
    hits = np.zeros(max(CMC_RANKS))
    for i in range(len(q)):
        order = np.argsort(-sims[i], kind="stable")
        junk = ((g_ids[order] == q_ids[i]) & (g_cams[order] == q_cams[i])) | (g_ids[order] == -1)
        good = (g_ids[order] == q_ids[i]) & ~junk
        good = good[~junk]
        if not good.any():
            continue  # no cross-camera match: the query is left out, as in the standard protocol
        first = int(np.flatnonzero(good)[0])
        if first < len(hits):
            hits[first:] += 1
        positions = np.flatnonzero(good) + 1
        aps.append(float(np.mean(np.arange(1, len(positions) + 1) / positions)))
    n = len(aps)
    if n == 0:
        return 0.0, {k: 0.0 for k in CMC_RANKS}, 0
    return float(np.mean(aps)), {k: float(hits[k - 1] / n) for k in CMC_RANKS}, n


def evaluate_market(embedder: Embedder, root: Path) -> MarketResult:
    qf, q_ids, q_cams = _load(Path(root) / "query")
    gf, g_ids, g_cams = _load(Path(root) / "bounding_box_test")
    mAP, cmc, n = market_metrics(
        _embed_all(embedder, qf), q_ids, q_cams, _embed_all(embedder, gf), g_ids, g_cams
    )
    return MarketResult(str(root), n, len(gf), mAP, cmc)


def build_from_mot(
    video: Path, gt_path: Path, out: Path, *, cameras: int = 3, per_segment: int = 4, min_height: float = 50
) -> tuple[int, int]:
    """A small Market-layout set from single-camera MOT ground truth, for testing eval-reid.

    The footage is cut into `cameras` equal time segments that act as cameras (one real camera has no
    cross-camera pairs). Per id and segment, `per_segment` boxes evenly spread in time are cropped; the
    first crop of each id's first segment is its query, the rest its gallery. Returns (queries, gallery).
    """
    gt = [g for g in load_mot_gt(gt_path) if g.box[3] >= min_height]
    if not gt:
        raise EmptyFootageError(f"{gt_path}: no ground-truth boxes")
    last = max(g.frame for g in gt) + 1
    chosen: dict[int, list[tuple[int, int, tuple[float, float, float, float]]]] = defaultdict(list)
    by_key: dict[tuple[int, int], list[int]] = defaultdict(list)
    for n, g in enumerate(gt):
        by_key[(g.id, g.frame * cameras // last)].append(n)
    for (gid, cam), idx in by_key.items():
        idx.sort(key=lambda n: gt[n].frame)
        picks = np.linspace(0, len(idx) - 1, min(per_segment, len(idx))).round().astype(int)
        for p in sorted(set(picks.tolist())):
            g = gt[idx[p]]
            chosen[g.frame].append((gid, cam + 1, g.box))
    (out / "query").mkdir(parents=True, exist_ok=True)
    (out / "bounding_box_test").mkdir(parents=True, exist_ok=True)
    first_seen: set[int] = set()
    nq = ng = 0
    for frame in iter_frames(video):
        for gid, cam, box in chosen.get(frame.index, []):
            name = f"{gid:04d}_c{cam}s1_{frame.index:06d}_00.jpg"
            is_query = gid not in first_seen
            first_seen.add(gid)
            folder = "query" if is_query else "bounding_box_test"
            cv2.imwrite(str(out / folder / name), crop(frame.image, box))
            nq, ng = (nq + 1, ng) if is_query else (nq, ng + 1)
    return nq, ng


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="Build a small Market-1501 layout set from MOT ground truth.")
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--gt", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--per-segment", type=int, default=4)
    a = p.parse_args()
    nq, ng = build_from_mot(a.video, a.gt, a.out, cameras=a.cameras, per_segment=a.per_segment)
    print(f"{a.out}: {nq} query and {ng} gallery crops")


if __name__ == "__main__":
    main()
