"""Ranking: query vectors against snapshot vectors, scored per track, optionally re-ranked.

Everything here works on plain arrays, so the evaluation and the Faiss-backed search share one scorer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reid_core.embed import l2_normalise
from reid_core.types import Vectors

TrackScoring = Literal["max", "mean_top2", "mean"]
TrackKey = tuple[str, int]  # (video, track_id)


@dataclass(frozen=True)
class SnapshotRef:
    video: str
    track_id: int
    snapshot: int
    frame: int


@dataclass(frozen=True)
class TrackScore:
    key: TrackKey
    score: float
    best_snapshot: int  # index into the refs given to score_tracks


def expand_query(
    query: Vectors, confirmed: Sequence[Vectors] = (), rejected: Sequence[Vectors] = ()
) -> Vectors:
    """Average query expansion: the query plus the mean of each confirmed track, minus a little of rejected.

    Each confirmed track counts once (its snapshots averaged), so a long track does not drown the photo.
    """
    q = l2_normalise(query.reshape(-1, query.shape[-1]).mean(axis=0))
    total = q.copy()
    for vecs in confirmed:
        total += l2_normalise(vecs.mean(axis=0))
    for vecs in rejected:
        total -= 0.3 * l2_normalise(vecs.mean(axis=0))
    return l2_normalise(total)


def score_tracks(
    query: Vectors, vectors: Vectors, refs: Sequence[SnapshotRef], scoring: TrackScoring = "mean_top2"
) -> list[TrackScore]:
    """Cosine similarity of the query (d,) to every snapshot, pooled per track; best first."""
    sims = vectors @ query.reshape(-1)
    by_track: dict[TrackKey, list[int]] = defaultdict(list)
    for i, ref in enumerate(refs):
        by_track[(ref.video, ref.track_id)].append(i)
    out = []
    for key, idx in by_track.items():
        s = np.sort(sims[idx])[::-1]
        if scoring == "max":
            score = float(s[0])
        elif scoring == "mean_top2":
            score = float(s[:2].mean())
        else:
            score = float(s.mean())
        out.append(TrackScore(key=key, score=score, best_snapshot=idx[int(np.argmax(sims[idx]))]))
    out.sort(key=lambda ts: -ts.score)
    return out


def track_vectors(vectors: Vectors, refs: Sequence[SnapshotRef]) -> tuple[list[TrackKey], Vectors]:
    """One L2-normalised mean vector per track."""
    by_track: dict[TrackKey, list[int]] = defaultdict(list)
    for i, ref in enumerate(refs):
        by_track[(ref.video, ref.track_id)].append(i)
    keys = list(by_track)
    if not keys:
        return keys, np.zeros((0, vectors.shape[1]), dtype=np.float32)
    return keys, l2_normalise(np.stack([vectors[by_track[k]].mean(axis=0) for k in keys]))


def k_reciprocal_rerank(
    query: Vectors, gallery: Vectors, k1: int = 20, k2: int = 6, lambda_value: float = 0.3
) -> np.ndarray:
    """Re-ranking with k-reciprocal encoding (Zhong et al., CVPR 2017) for one query.

    Returns the final distance of each gallery item (lower is closer). gallery rows are L2-normalised.
    """
    feats = np.concatenate([query.reshape(1, -1), gallery]).astype(np.float32)
    n = len(feats)
    k1 = max(1, min(k1, n - 1))
    k2 = max(1, min(k2, n))
    original = np.clip(2.0 - 2.0 * feats @ feats.T, 0.0, None)
    original = original / np.maximum(original.max(axis=0, keepdims=True), 1e-12)
    rank = np.argsort(original, axis=1)
    v = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        forward = rank[i, : k1 + 1]
        backward = rank[forward, : k1 + 1]
        reciprocal = forward[np.any(backward == i, axis=1)]
        expansion = reciprocal
        half = max(1, round(k1 / 2))
        for cand in reciprocal:
            cf = rank[cand, : half + 1]
            cb = rank[cf, : half + 1]
            cand_rec = cf[np.any(cb == cand, axis=1)]
            if len(np.intersect1d(cand_rec, reciprocal)) > 2 / 3 * len(cand_rec):
                expansion = np.append(expansion, cand_rec)
        expansion = np.unique(expansion)
        weight = np.exp(-original[i, expansion])
        v[i, expansion] = weight / weight.sum()
    if k2 > 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    # Jaccard distance between the query's and each gallery item's encoding.
    mins = np.minimum(v[0:1], v[1:]).sum(axis=1)
    maxs = np.maximum(v[0:1], v[1:]).sum(axis=1)
    jaccard = 1.0 - mins / np.maximum(maxs, 1e-12)
    result: np.ndarray = jaccard * (1 - lambda_value) + original[0, 1:] * lambda_value
    return result
