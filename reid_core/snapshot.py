"""Snapshot choice: a few good crops per track, so the ReID model runs a few times per track, not per box.

Quality favours what a ReID model needs: a big, confidently detected, sharp, whole and unoccluded person.
Crops are kept per time bucket while a track is open (memory stays bounded on long tracks), and K are
picked at its end, spread over its life (different poses and lighting describe a person better).

A track is also cut into pieces where it comes out from behind another person: those are the moments
where IoU tracking can swap two people, so each piece gets its own K snapshots and reid_core.link joins
the pieces again by appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2

from reid_core.detect import Detection
from reid_core.embed import crop
from reid_core.types import Box, Image


@dataclass(frozen=True)
class SnapshotSettings:
    k: int = 3
    full_height_px: float = 128.0  # boxes this tall or more count as full size (OSNet sees 256 x 128)
    border_px: float = 2.0  # a box this close to the frame edge is probably cut
    bucket_s: float = 1.0  # one candidate kept per bucket of a track's life ...
    max_buckets: int = 32  # ... and buckets double in length beyond this many
    # A new piece starts when a track comes out from behind another box that covered at least this share
    # of it (None: never cut). Below a fifth, boxes overlap too little for IoU matching to swap people;
    # 0.1 and 0.3 are compared in bench/tracking_ablation.py.
    split_covered: float | None = 0.2


@dataclass(frozen=True, eq=False)
class Candidate:
    frame: int
    t: float
    box: Box
    quality: float
    image: Image  # the crop


def covered_fraction(box: Box, others: Sequence[Box]) -> float:
    """Largest share of box's area covered by any one other box (occlusion by another person)."""
    area = box[2] * box[3]
    if area <= 0:
        return 1.0
    worst = 0.0
    for o in others:
        ix = min(box[0] + box[2], o[0] + o[2]) - max(box[0], o[0])
        iy = min(box[1] + box[3], o[1] + o[3]) - max(box[1], o[1])
        if ix > 0 and iy > 0:
            worst = max(worst, ix * iy / area)
    return worst


def sharpness(image: Image) -> float:
    """Variance of the Laplacian, mapped to 0..1 (blur and compression smear lower it)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    var = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    return var / (var + 100.0)


def base_quality(
    det: Detection, others: Sequence[Box], width: int, height: int, s: SnapshotSettings
) -> float:
    """Quality before sharpness: size, detector score, not cut by the border, not occluded (0..1)."""
    return _base_quality(det, covered_fraction(det.box, others), width, height, s)


def _base_quality(det: Detection, covered: float, width: int, height: int, s: SnapshotSettings) -> float:
    x, y, w, h = det.box
    size = min(1.0, h / s.full_height_px) ** 0.5
    b = s.border_px
    cut = x <= b or y <= b or x + w >= width - b or y + h >= height - b
    whole = 0.4 if cut else 1.0
    free = (1.0 - covered) ** 2
    return float(size * det.score * whole * free)


def quality(
    det: Detection, pixels: Image, others: Sequence[Box], width: int, height: int, s: SnapshotSettings
) -> float:
    return base_quality(det, others, width, height, s) * (0.5 + 0.5 * sharpness(pixels))


@dataclass
class _TrackPool:
    bucket_s: float
    buckets: dict[int, Candidate] = field(default_factory=dict)

    def best_in_bucket(self, t: float) -> float:
        best = self.buckets.get(int(t // self.bucket_s))
        return -1.0 if best is None else best.quality

    def offer(self, cand: Candidate, max_buckets: int) -> None:
        key = int(cand.t // self.bucket_s)
        best = self.buckets.get(key)
        if best is None or cand.quality > best.quality:
            self.buckets[key] = cand
        while len(self.buckets) > max_buckets:
            self.bucket_s *= 2
            merged: dict[int, Candidate] = {}
            for c in self.buckets.values():
                k = int(c.t // self.bucket_s)
                if k not in merged or c.quality > merged[k].quality:
                    merged[k] = c
            self.buckets = merged


@dataclass(frozen=True)
class Segment:
    """One piece of a track: its first frame and its chosen snapshots (time order)."""

    first_frame: int
    chosen: list[Candidate]


@dataclass
class _TrackState:
    pieces: list[tuple[int, _TrackPool]]  # (first frame, candidates), in time order
    covered: bool = False  # covered by another box in the last frame seen


class SnapshotPool:
    """Collects candidate crops for open tracks, per piece; take() hands back the chosen ones and forgets
    the track."""

    def __init__(self, settings: SnapshotSettings | None = None) -> None:
        self.settings = settings or SnapshotSettings()
        self._tracks: dict[int, _TrackState] = {}

    def offer(self, image: Image, frame: int, t: float, tracked: Sequence[tuple[int, Detection]]) -> None:
        """All of one frame's tracked detections (they occlude each other, so they come together)."""
        s = self.settings
        h, w = image.shape[:2]
        boxes = [d.box for _, d in tracked]
        for i, (track_id, det) in enumerate(tracked):
            covered = covered_fraction(det.box, boxes[:i] + boxes[i + 1 :])
            is_covered = s.split_covered is not None and covered >= s.split_covered
            state = self._tracks.get(track_id)
            if state is None:
                state = self._tracks[track_id] = _TrackState([(frame, _TrackPool(s.bucket_s))])
            elif state.covered and not is_covered:
                state.pieces.append((frame, _TrackPool(s.bucket_s)))  # out from behind someone
            state.covered = is_covered
            pool = state.pieces[-1][1]
            base = _base_quality(det, covered, w, h, s)
            if base <= pool.best_in_bucket(t):
                continue  # cannot win its bucket even if perfectly sharp: skip the crop and the Laplacian
            pixels = crop(image, det.box)
            q = base * (0.5 + 0.5 * sharpness(pixels))
            pool.offer(Candidate(frame, t, det.box, q, pixels), s.max_buckets)

    def retain(self, track_ids: set[int]) -> None:
        """Forget the candidates of tracks that ended without being kept."""
        for tid in set(self._tracks) - track_ids:
            del self._tracks[tid]

    def take(self, track_id: int) -> list[Segment]:
        state = self._tracks.pop(track_id, None)
        if state is None:
            return []
        k = self.settings.k
        return [Segment(first, choose(list(pool.buckets.values()), k)) for first, pool in state.pieces]


def choose(candidates: Sequence[Candidate], k: int) -> list[Candidate]:
    """Best candidate in each of k equal stretches of the track's life, topped up with the next best."""
    if not candidates:
        return []
    t0 = min(c.t for c in candidates)
    t1 = max(c.t for c in candidates)
    span = max(t1 - t0, 1e-9)
    chosen: dict[int, Candidate] = {}
    for c in candidates:
        seg = min(k - 1, int((c.t - t0) / span * k))
        if seg not in chosen or c.quality > chosen[seg].quality:
            chosen[seg] = c
    picked = sorted(chosen.values(), key=lambda c: -c.quality)
    taken = {id(c) for c in picked}  # identity: candidates hold arrays, so == is not usable
    rest = sorted((c for c in candidates if id(c) not in taken), key=lambda c: -c.quality)
    return sorted((picked + rest)[:k], key=lambda c: c.t)
