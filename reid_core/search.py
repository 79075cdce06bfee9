"""Ranking: query vectors against snapshot vectors, scored per track, optionally re-ranked.

The scorers work on plain arrays, so the evaluation and the Faiss-backed search share them; rank_moments
ranks an index folder's tracks (its vectors and catalog) into moments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reid_core.catalog import Catalog
from reid_core.embed import l2_normalise
from reid_core.index import VectorIndex, VectorKey
from reid_core.types import Moment, Vectors

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


def _track_snapshot_vectors(
    index: VectorIndex, catalog: Catalog, keys: Sequence[tuple[str, int]]
) -> tuple[list[SnapshotRef], Vectors]:
    refs: list[SnapshotRef] = []
    vkeys: list[VectorKey] = []
    for video, tid in keys:
        rec = catalog.videos.get(video)
        if rec is None:
            continue
        for info in rec.snapshots.get(tid, []):
            refs.append(SnapshotRef(video, tid, info.snapshot, info.frame))
            vkeys.append(VectorKey(video, tid, info.snapshot))
    if not vkeys:
        return [], np.zeros((0, index.dim), dtype=np.float32)
    return refs, np.asarray(index.vectors(vkeys), dtype=np.float32)


def rank_moments(
    query: Vectors,
    index: VectorIndex,
    catalog: Catalog,
    *,
    top_k: int = 20,
    min_score: float | None = None,
    confirmed: Sequence[tuple[str, int]] = (),
    rejected: Sequence[tuple[str, int]] = (),
    rerank: bool = False,
    scoring: TrackScoring = "mean",
) -> list[Moment]:
    if len(index) == 0:
        return []
    conf_vecs = [v for v in (_track_snapshot_vectors(index, catalog, [k])[1] for k in confirmed) if len(v)]
    rej_vecs = [v for v in (_track_snapshot_vectors(index, catalog, [k])[1] for k in rejected) if len(v)]
    q = expand_query(query, conf_vecs, rej_vecs)
    # Candidate tracks from the nearest snapshots, then every snapshot of each candidate is scored.
    wanted = min(len(index), max(256, top_k * 8))
    hits = index.search(q.reshape(1, -1), wanted)[0]
    banned = set(rejected)
    # Tracks the user confirmed are the person: always candidates, and listed first (by score).
    pinned = [k for k in dict.fromkeys(confirmed) if k not in banned and k[0] in catalog.videos]
    candidates: list[tuple[str, int]] = list(pinned)
    for key, _ in hits:
        tk = (key.video, key.track_id)
        if tk not in banned and tk not in candidates and key.video in catalog.videos:
            candidates.append(tk)
    refs, vectors = _track_snapshot_vectors(index, catalog, candidates)
    if not refs:
        return []
    ranked = score_tracks(q, vectors, refs, scoring)
    if rerank and len(ranked) > 1:
        keys, tvecs = track_vectors(vectors, refs)
        dist = k_reciprocal_rerank(q, tvecs)
        order = {keys[i]: n for n, i in enumerate(np.argsort(dist, kind="stable"))}
        ranked.sort(key=lambda ts: order[ts.key])
    if pinned:
        first = set(pinned)
        ranked.sort(key=lambda ts: ts.key not in first)  # stable: each group keeps its order
    moments = []
    for ts in ranked:
        if min_score is not None and ts.score < min_score:
            continue
        video, tid = ts.key
        track = catalog.track(video, tid)
        best_ref = refs[ts.best_snapshot]
        best = next((f for f in track.frames if f.frame == best_ref.frame), track.frames[0])
        image = catalog.videos[video].file_of(best.frame)
        moments.append(
            Moment(video, tid, ts.score, track.start_s, track.end_s, best, list(track.frames), image)
        )
        if len(moments) >= top_k:
            break
    return moments
