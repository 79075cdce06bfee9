"""Tracklet linking: join the pieces of tracks by appearance, after IoU tracking has cut or mixed them.

ByteTrack associates by box overlap only. Where two people cross, it can hand one person's track to the
other (an impure track), and where a person is hidden for longer than its buffer, it starts a new track
(a fragment). Both hurt search: an impure track is ranked by a mix of two people, and a fragmented person
needs several hits to be found. So the engine cuts every track where it comes out from behind another
person (the only moments where IoU matching can swap identities), embeds a few snapshots of each piece,
and links the pieces again here: a piece ending and another starting within a short gap, close in space,
whose snapshots look alike. This is the appearance-and-motion linking step of StrongSORT's AFLink and of
offline trackers generally, done greedily on the mean snapshot vector of each piece.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reid_core.embed import l2_normalise
from reid_core.types import TrackFrame, Vectors


@dataclass(frozen=True)
class LinkSettings:
    # A person hidden behind another for up to this long is still linked (ByteTrack keeps a lost track 1 s).
    max_gap_s: float = 2.0
    # Bottom-centre distance allowed across a gap, in person heights per second of gap (plus one height):
    # walking speed is about one body height per second; this allows for running and box jitter.
    max_step_heights: float = 1.5
    # Mean snapshot similarity needed to link pieces of different tracks: the `different_quantile` of the
    # similarities between pieces seen at the same time (different people, whatever the embedder's scale),
    # from the video itself; `min_similarity` where fewer than `min_pairs` such pairs exist. On PETS these
    # pairs match ground truth: with OSNet x0.25 their 90th percentile is 0.69 against 0.71 for pieces of
    # different people by ground truth (same person: median 0.81), with the default pack 0.79 against 0.79
    # (bench/tracking_ablation.py prints them).
    different_quantile: float = 0.9
    min_pairs: int = 20
    min_similarity: float = 0.7


@dataclass
class Piece:
    """A stretch of one tracker track with the snapshot vectors taken from it."""

    source_track: int
    frames: list[TrackFrame]  # detected frames only, in time order
    vectors: Vectors  # (k, dim), L2-normalised snapshot vectors; k >= 1

    @property
    def mean_vector(self) -> Vectors:
        return l2_normalise(self.vectors.mean(axis=0))


def _bottom_centre(f: TrackFrame) -> tuple[float, float]:
    x, y, w, h = f.box
    return x + w / 2, y + h


def link(pieces: Sequence[Piece], settings: LinkSettings | None = None) -> list[list[int]]:
    """Chains of piece indices in time order; every piece is in exactly one chain.

    Candidate links go from a piece's end to a later piece's start within max_gap_s and within reach.
    The tracker's own continuation (the next piece of the same track) is a candidate at any similarity;
    other links need link_threshold's similarity. Links are taken greedily, most similar first, each piece
    having at most one successor and one predecessor, so at a crossing the better-matching continuation
    wins.
    """
    s = settings or LinkSettings()
    n = len(pieces)
    if n == 0:
        return []
    means = np.stack([p.mean_vector for p in pieces])
    threshold = link_threshold(pieces, means, s)
    # Pieces by start time, so each piece's possible successors are one slice (long videos stay fast).
    order = sorted(range(n), key=lambda k: pieces[k].frames[0].t)
    starts = [pieces[k].frames[0].t for k in order]
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(pieces):
        end = a.frames[-1]
        ex, ey = _bottom_centre(end)
        lo = bisect.bisect_left(starts, end.t)
        hi = bisect.bisect_right(starts, end.t + s.max_gap_s)
        for j in order[lo:hi]:
            start = pieces[j].frames[0]
            if j == i or start.frame <= end.frame:
                continue
            gap = start.t - end.t
            sx, sy = _bottom_centre(start)
            reach = s.max_step_heights * max(end.box[3], start.box[3]) * (1.0 + gap)
            if math.hypot(ex - sx, ey - sy) > reach:
                continue
            continuation = a.source_track == pieces[j].source_track and j == i + 1
            sim = float(means[i] @ means[j])
            if continuation or sim >= threshold:
                candidates.append((sim, i, j))
    candidates.sort(key=lambda c: -c[0])
    succ: dict[int, int] = {}
    pred: dict[int, int] = {}
    for _, i, j in candidates:
        if i in succ or j in pred:
            continue
        succ[i] = j
        pred[j] = i
    # Links always go forward in time, so following successors cannot loop.
    chains = []
    for i in range(n):
        if i in pred:
            continue
        chain = [i]
        while chain[-1] in succ:
            chain.append(succ[chain[-1]])
        chains.append(chain)
    return chains


def link_threshold(pieces: Sequence[Piece], means: Vectors, settings: LinkSettings) -> float:
    """The similarity a link between pieces of different tracks needs (see LinkSettings).

    means: each piece's mean snapshot vector (L2-normalised), row by row.
    """
    order = sorted(range(len(pieces)), key=lambda k: pieces[k].frames[0].frame)
    starts = [pieces[k].frames[0].frame for k in order]
    together: list[float] = []
    for pos, i in enumerate(order):
        a = pieces[i]
        # Every pair seen at the same time is counted once: from the piece that started first.
        for j in order[pos + 1 : bisect.bisect_right(starts, a.frames[-1].frame)]:
            if pieces[j].source_track != a.source_track:
                together.append(float(means[i] @ means[j]))
    if len(together) < settings.min_pairs:
        return settings.min_similarity
    return float(np.quantile(together, settings.different_quantile))
