"""How well the search works on this footage, without ground truth (`reid report`).

Held-out track retrieval: for each long group of snapshots (a track, or photos linked as one person; see
reid_core.site), its middle snapshot is hidden and searched for among every other snapshot, leaving out the
hidden snapshot's neighbourhood (its own video within ``window_s`` seconds; for photos read one by one, its
own photo). The group is found when it ranks first among the groups (scored as the engine scores tracks).
The share found, per video and overall, is a figure of how well a person's other appearances come back;
it is computed with the original vectors and with an adaptation, on the same hidden snapshots.

With an adaptation the hidden snapshot is adapted as a query is (reid_core.adapt.adapt_queries) but never
expands from its own group: a track's other snapshots are far closer to it than a photo a user brings, and
would flatter the adaptation.

From verdicts: the share of marked results that were right, per band of the rank they were shown at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reid_core.adapt import Adaptation, adapt_queries
from reid_core.search import SnapshotRef, TrackScoring, score_tracks
from reid_core.site import QueryVerdicts, Site

RANK_BANDS: tuple[tuple[int, int | None], ...] = ((1, 5), (6, 10), (11, 20), (21, None))


@dataclass(frozen=True)
class HeldOutVideo:
    video: str
    tracks: int  # groups tested (hidden snapshot from this video)
    found_first: float  # share whose own group ranked first
    mean_reciprocal_rank: float


@dataclass(frozen=True)
class HeldOut:
    tracks: int
    found_first: float
    mean_reciprocal_rank: float
    per_video: list[HeldOutVideo]


@dataclass(frozen=True)
class RankBand:
    first: int
    last: int | None  # None: and below
    marked: int
    right: int
    share_right: float | None


@dataclass(frozen=True)
class Comparison:
    before: HeldOut
    after: HeldOut | None

    @property
    def verdict(self) -> str:
        """'better', 'worse', 'same' or 'unknown' (too few long tracks to judge: fewer than MIN_TRACKS)."""
        if self.after is None or self.before.tracks < MIN_TRACKS:
            return "unknown"
        d = self.after.found_first - self.before.found_first
        if abs(d) < 1e-9:
            d = self.after.mean_reciprocal_rank - self.before.mean_reciprocal_rank
        return "better" if d > 1e-9 else "worse" if d < -1e-9 else "same"


MIN_TRACKS = 10


def _long_groups(site: Site, min_snapshots: int) -> list[npt.NDArray[np.int64]]:
    rows_of: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(site.groups):
        rows_of[int(g)].append(i)
    out = []
    for g in sorted(rows_of):
        rows = np.array(sorted(rows_of[g], key=lambda i: (site.videos[i], site.times[i])), np.int64)
        if len(rows) >= min_snapshots:
            out.append(rows)
    return out


def _neighbourhood(site: Site, row: int, window_s: float) -> npt.NDArray[np.bool_]:
    same_video = site.videos == site.videos[row]
    if site.video_names[int(site.videos[row])] in site.galleries:
        near: npt.NDArray[np.bool_] = same_video & (site.frames == site.frames[row])
    else:
        near = same_video & (np.abs(site.times - site.times[row]) <= window_s)
    return near


def held_out(
    site: Site,
    adaptation: Adaptation | None = None,
    *,
    window_s: float = 2.0,
    min_snapshots: int | None = None,
    scoring: TrackScoring = "mean",
) -> HeldOut:
    """The held-out figure with the original vectors (adaptation None) or with the adaptation."""
    refs = [
        SnapshotRef("", int(g), i, int(f))
        for i, (g, f) in enumerate(zip(site.groups, site.frames, strict=True))
    ]
    found: dict[str, list[float]] = defaultdict(list)
    for rows in _long_groups(site, min_snapshots or default_min_snapshots(site)):
        hidden = int(rows[len(rows) // 2])
        near = _neighbourhood(site, hidden, window_s)
        keep = np.flatnonzero(~near)
        if not (site.groups[keep] == site.groups[hidden]).any():
            continue  # every other snapshot of the group is in the neighbourhood: nothing to find
        if adaptation is None:
            query, gallery = site.vectors[hidden], site.vectors[keep]
        else:
            own = site.groups == site.groups[hidden]
            mask = near | own
            if adaptation.settings.other_videos:
                mask = mask | (site.videos == site.videos[hidden])

            def banned(
                _i: int, r: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_] = mask
            ) -> npt.NDArray[np.bool_]:
                out: npt.NDArray[np.bool_] = mask[r]
                return out

            query = adapt_queries(
                adaptation,
                site.vectors[hidden : hidden + 1],
                means=adaptation.video_means[site.videos[hidden]],
                banned=banned,
            )[0]
            gallery = adaptation.vectors[keep]
        ranked = score_tracks(query, gallery, [refs[i] for i in keep], scoring)
        rank = next(n for n, ts in enumerate(ranked, 1) if ts.key[1] == site.groups[hidden])
        found[site.video_names[int(site.videos[hidden])]].append(1.0 / rank)
    per_video = [
        HeldOutVideo(v, len(r), float(np.mean(np.array(r) == 1.0)), float(np.mean(r)))
        for v, r in sorted(found.items())
    ]
    everything = [x for r in found.values() for x in r]
    return HeldOut(
        tracks=len(everything),
        found_first=float(np.mean(np.array(everything) == 1.0)) if everything else 0.0,
        mean_reciprocal_rank=float(np.mean(everything)) if everything else 0.0,
        per_video=per_video,
    )


def default_min_snapshots(site: Site) -> int:
    """Long enough to leave snapshots outside the neighbourhood: 2 for linked photos, 5 (5 s) for video."""
    return 2 if site.galleries and len(site.galleries) == len(site.video_names) else 5


def compare(site: Site, adaptation: Adaptation | None, *, window_s: float = 2.0) -> Comparison:
    """The held-out figure before and after, on the same hidden snapshots."""
    before = held_out(site, None, window_s=window_s)
    after = held_out(site, adaptation, window_s=window_s) if adaptation is not None else None
    return Comparison(before, after)


def rank_bands(verdicts: list[QueryVerdicts]) -> list[RankBand]:
    out = []
    for first, last in RANK_BANDS:
        marks = [m for q in verdicts for m in q.marks if m.rank >= first and (last is None or m.rank <= last)]
        right = sum(m.right for m in marks)
        out.append(RankBand(first, last, len(marks), right, right / len(marks) if marks else None))
    return out
