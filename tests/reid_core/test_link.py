"""Cutting tracks where people cross, and linking the pieces again by appearance (no models needed)."""

from __future__ import annotations

import numpy as np

from reid_core.detect import Detection
from reid_core.link import LinkSettings, Piece, link, link_threshold
from reid_core.snapshot import SnapshotPool, SnapshotSettings
from reid_core.types import TrackFrame

RED = np.array([1.0, 0.0, 0.0], dtype=np.float32)
BLUE = np.array([0.0, 1.0, 0.0], dtype=np.float32)
GREEN = np.array([0.0, 0.0, 1.0], dtype=np.float32)


def piece(track: int, first: int, last: int, x0: float, x1: float, look: np.ndarray) -> Piece:
    """A person walking from x0 to x1 over frames first..last (10 fps), 100 px tall."""
    n = last - first
    frames = [
        TrackFrame(f, f / 10, (x0 + (x1 - x0) * (f - first) / max(n, 1), 100.0, 40.0, 100.0), 0.9)
        for f in range(first, last + 1)
    ]
    return Piece(track, frames, np.stack([look, look]))


def test_a_swap_at_a_crossing_is_undone() -> None:
    # Two people cross at x = 200 around frame 10; the tracker swapped them: track 1 starts red and ends
    # blue, track 2 the other way round. Pieces are cut where each comes out from behind the other.
    pieces = [
        piece(1, 0, 9, 100, 190, RED),
        piece(1, 12, 20, 210, 300, BLUE),
        piece(2, 0, 9, 300, 210, BLUE),
        piece(2, 12, 20, 190, 100, RED),
    ]
    chains = sorted(link(pieces))
    assert chains == [[0, 3], [2, 1]]  # red: track 1 then track 2's end; blue: the other way


def test_tracker_continuation_kept_when_no_better_match() -> None:
    pieces = [piece(1, 0, 9, 100, 190, RED), piece(1, 12, 20, 210, 300, RED * 0.6 + GREEN * 0.8)]
    assert link(pieces) == [[0, 1]]  # looks different (similarity 0.6) but nothing else competes


def test_fragments_link_only_when_alike_near_and_soon() -> None:
    first = piece(1, 0, 9, 100, 190, RED)
    assert link([first, piece(2, 14, 20, 200, 260, RED)]) == [[0, 1]]  # 0.5 s later, close: one person
    assert sorted(link([first, piece(2, 14, 20, 200, 260, BLUE)])) == [[0], [1]]  # someone else
    assert sorted(link([first, piece(2, 40, 50, 200, 260, RED)])) == [[0], [1]]  # 3 s later: too late
    assert sorted(link([first, piece(2, 14, 20, 700, 760, RED)])) == [[0], [1]]  # too far to walk
    strict = LinkSettings(min_similarity=0.99)
    assert sorted(link([first, piece(2, 14, 20, 200, 260, RED * 0.9 + GREEN * 0.44)], strict)) == [[0], [1]]


def test_pool_cuts_a_track_where_it_comes_out_from_behind_someone() -> None:
    pool = SnapshotPool(SnapshotSettings(k=2, bucket_s=0.1))
    image = np.random.default_rng(0).integers(0, 255, (300, 600, 3), dtype=np.uint8)
    for f in range(30):
        a = Detection((100.0 + 5 * f, 50.0, 40.0, 100.0), 0.9)
        # Person 2 stands still where person 1 passes: it covers a fifth or more of person 1 in frames 6..18.
        b = Detection((160.0, 50.0, 40.0, 100.0), 0.9)
        pool.offer(image, f, f / 10, [(1, a), (2, b)])
    segments = pool.take(1)
    assert [s.first_frame for s in segments] == [0, 19]
    assert all(1 <= len(s.chosen) <= 2 for s in segments)
    never = SnapshotPool(SnapshotSettings(split_covered=None))
    for f in range(30):
        never.offer(image, f, f / 10, [(1, Detection((100.0 + 5 * f, 50.0, 40.0, 100.0), 0.9)), (2, b)])
    assert len(never.take(1)) == 1


def test_link_threshold_comes_from_people_seen_at_the_same_time() -> None:
    rng = np.random.default_rng(1)
    # 10 people at once, each a look close to a shared one: any two of them score about 0.9.
    shared = rng.normal(size=16).astype(np.float32)
    crowd = []
    for n in range(10):
        look = shared + 0.3 * rng.normal(size=16).astype(np.float32)
        crowd.append(piece(100 + n, 0, 50, 50.0 * n, 50.0 * n + 20, look / np.linalg.norm(look)))
    means = np.stack([p.mean_vector for p in crowd])
    threshold = link_threshold(crowd, means, LinkSettings())
    assert threshold > 0.8  # 45 pairs of different people: their 90th percentile
    assert link_threshold(crowd[:3], means[:3], LinkSettings()) == 0.7  # 3 pairs: too few, the floor
