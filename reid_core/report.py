"""How well the search works on this footage, without ground truth (`reid report`).

Held-out track retrieval: for each long group of snapshots (a track, or photos linked as one person; see
reid_core.site), its middle snapshot is hidden and searched for among the other snapshots of its video,
leaving out the hidden snapshot's neighbourhood (within ``window_s`` seconds; for photos read one by one, its
own photo). The group is found when the first track ranked (as the engine ranks tracks) is one of its own.
The share found, per video and overall, is a figure of how well a person's other appearances come back;
it is computed with the original vectors and with an adaptation, on the same hidden snapshots.

Other videos are not searched: without labels nobody knows who they show, and the same person there would
count as a wrong answer (measured on WILDTRACK: an adaptation that brings cameras together then looks worse
for the very reason it helps). Across videos the only known pairs are the user's: tracks of different
videos confirmed for one query form one group, and the "across" figure hides one snapshot of it per video
and searches the other videos.

With an adaptation the hidden snapshot is adapted as a query is (reid_core.adapt.adapt_queries) but never
expands from its own group: a track's other snapshots are far closer to it than a photo a user brings, and
would flatter the adaptation.

From verdicts: the share of marked results that were right, per band of the rank they were shown at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from reid_core.adapt import Adaptation, adapt_queries, learn
from reid_core.search import SnapshotRef, TrackScoring, score_tracks
from reid_core.site import QueryVerdicts, Site

RANK_BANDS: tuple[tuple[int, int | None], ...] = ((1, 5), (6, 10), (11, 20), (21, None))


@dataclass(frozen=True)
class HeldOutVideo:
    video: str
    tracks: int  # groups tested (hidden snapshot from this video)
    found_first: float  # share whose own group ranked first
    mean_reciprocal_rank: float


Scope = Literal["within", "across"]


@dataclass(frozen=True)
class HeldOut:
    scope: Scope
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
    across_before: HeldOut
    across_after: HeldOut | None

    @property
    def verdict(self) -> str:
        """'better', 'worse', 'same' or 'unknown' (fewer than MIN_TRACKS held-out queries), over the
        queries within and across videos together: both are searches the user makes."""
        if self.after is None or self.across_after is None:
            return "unknown"
        n = self.before.tracks + self.across_before.tracks
        if n < MIN_TRACKS:
            return "unknown"

        def pooled(w: HeldOut, a: HeldOut, field: str) -> float:
            return float(getattr(w, field) * w.tracks + getattr(a, field) * a.tracks) / n

        d = pooled(self.after, self.across_after, "found_first") - pooled(
            self.before, self.across_before, "found_first"
        )
        if abs(d) < 1e-9:
            d = pooled(self.after, self.across_after, "mean_reciprocal_rank") - pooled(
                self.before, self.across_before, "mean_reciprocal_rank"
            )
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


def _hidden_queries(
    site: Site, scope: Scope, window_s: float, min_snapshots: int
) -> list[tuple[int, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]]:
    """(hidden row, rows searched, rows the query may not expand from) for each held-out query."""
    out = []
    for rows in _long_groups(site, min_snapshots):
        own = site.groups == site.groups[rows[0]]
        if scope == "within":
            hidden = int(rows[len(rows) // 2])
            near = _neighbourhood(site, hidden, window_s)
            searched = ~near & (site.videos == site.videos[hidden])
            out.append((hidden, searched, near | own))
            continue
        for video in np.unique(site.videos[rows]):
            here = rows[site.videos[rows] == video]
            if len(here) < len(rows):  # the group is seen in other videos too: a user confirmed it there
                other: npt.NDArray[np.bool_] = site.videos != video
                out.append((int(here[len(here) // 2]), other, ~other | own))
    return out


def held_out(
    site: Site,
    adaptation: Adaptation | None = None,
    *,
    scope: Scope = "within",
    window_s: float = 2.0,
    min_snapshots: int | None = None,
    scoring: TrackScoring = "mean",
) -> HeldOut:
    """The held-out figure with the original vectors (adaptation None) or with the adaptation.

    scope "within": a hidden snapshot is searched for in its own video (the other videos may show the same
    person, unknown without labels, and cannot count as wrong). "across": groups seen in several videos
    (only verdicts join tracks of different videos) hide one snapshot per video and search the others.
    """
    # Tracks are ranked as a search ranks them; a group is found when the first track is one of its own.
    refs = [
        SnapshotRef(k.video, k.track_id, i, int(f))
        for i, (k, f) in enumerate(zip(site.keys, site.frames, strict=True))
    ]
    group_of = {(k.video, k.track_id): int(g) for k, g in zip(site.keys, site.groups, strict=True)}
    found: dict[str, list[float]] = defaultdict(list)
    minimum = min_snapshots or default_min_snapshots(site)
    for hidden, searched, no_expansion in _hidden_queries(site, scope, window_s, minimum):
        keep = np.flatnonzero(searched)
        if not (site.groups[keep] == site.groups[hidden]).any():
            continue  # every other snapshot of the group is in the neighbourhood: nothing to find
        if adaptation is None:
            query, gallery = site.vectors[hidden], site.vectors[keep]
        else:
            a = adaptation
            if scope == "across":
                # The group's snapshots in the other videos took the hidden video's as neighbours: learn
                # again without them, or the answer would be in the question.
                a = learn(site, adaptation.settings, hidden=~searched & (site.groups == site.groups[hidden]))
            mask = no_expansion
            if adaptation.settings.other_videos:
                mask = mask | (site.videos == site.videos[hidden])

            def banned(
                _i: int, r: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_] = mask
            ) -> npt.NDArray[np.bool_]:
                out: npt.NDArray[np.bool_] = mask[r]
                return out

            query = adapt_queries(
                a, site.vectors[hidden : hidden + 1], means=a.video_means[site.videos[hidden]], banned=banned
            )[0]
            gallery = a.vectors[keep]
        ranked = score_tracks(query, gallery, [refs[i] for i in keep], scoring)
        rank = next(n for n, ts in enumerate(ranked, 1) if group_of[ts.key] == site.groups[hidden])
        found[site.video_names[int(site.videos[hidden])]].append(1.0 / rank)
    per_video = [
        HeldOutVideo(v, len(r), float(np.mean(np.array(r) == 1.0)), float(np.mean(r)))
        for v, r in sorted(found.items())
    ]
    everything = [x for r in found.values() for x in r]
    return HeldOut(
        scope=scope,
        tracks=len(everything),
        found_first=float(np.mean(np.array(everything) == 1.0)) if everything else 0.0,
        mean_reciprocal_rank=float(np.mean(everything)) if everything else 0.0,
        per_video=per_video,
    )


def default_min_snapshots(site: Site) -> int:
    """Long enough to leave snapshots outside the neighbourhood: 2 for linked photos, 5 (5 s) for video."""
    return 2 if site.galleries and len(site.galleries) == len(site.video_names) else 5


def compare(site: Site, adaptation: Adaptation | None, *, window_s: float = 2.0) -> Comparison:
    """The held-out figures (within and across videos) before and after, on the same hidden snapshots."""

    def both(a: Adaptation | None) -> tuple[HeldOut, HeldOut]:
        return (
            held_out(site, a, scope="within", window_s=window_s),
            held_out(site, a, scope="across", window_s=window_s),
        )

    before = both(None)
    after = both(adaptation) if adaptation is not None else None
    return Comparison(before[0], after[0] if after else None, before[1], after[1] if after else None)


def rank_bands(verdicts: list[QueryVerdicts]) -> list[RankBand]:
    out = []
    for first, last in RANK_BANDS:
        marks = [m for q in verdicts for m in q.marks if m.rank >= first and (last is None or m.rank <= last)]
        right = sum(m.right for m in marks)
        out.append(RankBand(first, last, len(marks), right, right / len(marks) if marks else None))
    return out
