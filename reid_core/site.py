"""What an index knows about its own people without labels: which snapshots are one person, which are not.

- Snapshots of one track are one person (positives).
- Two tracks seen in the same frame of the same video are two people (negatives).
- A user's verdicts on one query: the tracks marked "same person" are one person, and each is not any track
  marked "not them".
- Photos of a numbered folder read one by one (a gallery) have no tracks. Where the photos are consecutive
  frames of one camera (``link_photos``), a box in one photo and a box in the next one that overlap most
  with each other (IoU >= 0.5, each the other's best) are taken as one person: the tracks a 2 fps tracker
  would have made, without its confirmation delay. Off by default, since unrelated photos would be linked.

Groups are these "one person" sets: every snapshot belongs to exactly one group.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from reid_core.catalog import Catalog
from reid_core.index import VectorIndex, VectorKey
from reid_core.types import Box, ReidError, Vectors

TrackKey = tuple[str, int]


class VerdictsError(ReidError):
    """A verdicts file is unreadable or not in the documented layout; the message names the file."""


@dataclass(frozen=True)
class Mark:
    """One result a user marked: right (the person) or not, at the rank it was shown."""

    video: str
    track_id: int
    rank: int
    right: bool


@dataclass(frozen=True)
class QueryVerdicts:
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class Site:
    """Every snapshot of an index with the structure above. Arrays are aligned with ``keys``."""

    keys: list[VectorKey]
    frames: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    videos: npt.NDArray[np.int32]  # index into video_names
    video_names: list[str]
    galleries: frozenset[str]  # videos read photo by photo
    vectors: Vectors  # the original vectors, L2-normalised
    groups: npt.NDArray[np.int64]  # one id per person set (tracks, linked photos, confirmed verdicts)
    negatives: frozenset[tuple[int, int]]  # (group, group), smaller first: known to be two people
    positives_from_verdicts: int
    negatives_from_verdicts: int

    def __len__(self) -> int:
        return len(self.keys)

    def is_negative(self, a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) in self.negatives


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def load_site(
    index: VectorIndex,
    catalog: Catalog,
    *,
    verdicts: Sequence[QueryVerdicts] = (),
    link_photos: bool = False,
    link_iou: float = 0.5,
) -> Site:
    keys: list[VectorKey] = []
    frames: list[int] = []
    times: list[float] = []
    videos: list[int] = []
    boxes: list[Box] = []
    names = sorted(catalog.videos)
    galleries = set()
    track_of: dict[TrackKey, list[int]] = defaultdict(list)
    # (video code, frame) -> tracks present there, from every track frame (not only snapshot frames)
    present: dict[tuple[int, int], set[TrackKey]] = defaultdict(set)
    for code, name in enumerate(names):
        rec = catalog.videos[name]
        if rec.files and rec.analysis_fps is None and all(len(t.frames) == 1 for t in rec.tracks.values()):
            galleries.add(name)  # read photo by photo: every track is one box
        for tid, infos in rec.snapshots.items():
            for info in infos:
                track_of[(name, tid)].append(len(keys))
                keys.append(VectorKey(name, tid, info.snapshot))
                frames.append(info.frame)
                times.append(info.t)
                videos.append(code)
                boxes.append(info.box)
        for tid in rec.snapshots:
            for f in rec.tracks[tid].frames:
                present[(code, f.frame)].add((name, tid))
    vectors = index.vectors(keys) if keys else np.zeros((0, index.dim), np.float32)
    union = _Union(len(keys))
    for rows in track_of.values():
        for r in rows[1:]:
            union.join(rows[0], r)
    if link_photos:
        _link_photos(union, np.array(videos), np.array(frames), boxes, galleries, names, link_iou)
    pos_v = neg_v = 0
    verdict_neg: list[tuple[TrackKey, TrackKey]] = []
    for q in verdicts:
        right = [(m.video, m.track_id) for m in q.marks if m.right and (m.video, m.track_id) in track_of]
        wrong = [(m.video, m.track_id) for m in q.marks if not m.right and (m.video, m.track_id) in track_of]
        for a, b in itertools.pairwise(right):
            union.join(track_of[a][0], track_of[b][0])
            pos_v += 1
        verdict_neg += [(a, b) for a in right for b in wrong]
    roots = np.array([union.find(i) for i in range(len(keys))], np.int64)
    _, groups = np.unique(roots, return_inverse=True)
    group_of_track = {k: int(groups[rows[0]]) for k, rows in track_of.items()}
    negatives: set[tuple[int, int]] = set()
    for there in present.values():
        gs = sorted({group_of_track[t] for t in there if t in group_of_track})
        negatives.update((a, b) for i, a in enumerate(gs) for b in gs[i + 1 :])
    for a, b in verdict_neg:
        ga, gb = group_of_track[a], group_of_track[b]
        if ga != gb:
            negatives.add((min(ga, gb), max(ga, gb)))
            neg_v += 1
    return Site(
        keys=keys,
        frames=np.array(frames, np.int64),
        times=np.array(times, np.float64),
        videos=np.array(videos, np.int32),
        video_names=names,
        galleries=frozenset(galleries),
        vectors=np.asarray(vectors, np.float32),
        groups=groups.astype(np.int64),
        negatives=frozenset(negatives),
        positives_from_verdicts=pos_v,
        negatives_from_verdicts=neg_v,
    )


def _link_photos(
    union: _Union,
    videos: npt.NDArray[np.int32],
    frames: npt.NDArray[np.int64],
    boxes: list[Box],
    galleries: set[str],
    names: list[str],
    threshold: float,
) -> None:
    """Join boxes of consecutive photos of one gallery that overlap most with each other."""
    for code, name in enumerate(names):
        if name not in galleries:
            continue
        at: dict[int, list[int]] = defaultdict(list)
        for i in np.flatnonzero(videos == code):
            at[int(frames[i])].append(int(i))
        for f, here in at.items():
            nxt = at.get(f + 1, [])
            if not here or not nxt:
                continue
            m = np.array([[_iou(boxes[a], boxes[b]) for b in nxt] for a in here])
            for ai, bi in enumerate(m.argmax(axis=1)):
                if m[ai, bi] >= threshold and int(m[:, bi].argmax()) == ai:
                    union.join(here[ai], nxt[int(bi)])


def load_verdicts(path: Path) -> list[QueryVerdicts]:
    """A JSON file: {"queries": [{"marks": [{"video", "track_id", "rank", "right": true/false}]}]}."""
    try:
        doc: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerdictsError(f"{path}: cannot read verdicts ({exc})") from exc
    try:
        out = []
        for q in doc["queries"]:
            marks = tuple(
                Mark(str(m["video"]), int(m["track_id"]), int(m["rank"]), _bool(m["right"]))
                for m in q["marks"]
            )
            out.append(QueryVerdicts(marks))
        return out
    except (KeyError, TypeError, ValueError) as exc:
        raise VerdictsError(
            f'{path}: expected {{"queries": [{{"marks": [{{"video", "track_id", "rank", "right"}}]}}]}} '
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"'right' must be true or false, got {value!r}")
    return value
