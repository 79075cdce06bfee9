"""Site adaptation without labels, on top of the frozen embedder (`reid adapt`).

Two steps, both learned from the index alone (reid_core.site says what it knows without labels):

1. Camera centring: each video's mean snapshot vector is subtracted from its vectors (a query photo, whose
   camera is unknown, gets the mean of the video means). A camera's light, angle and background shift every
   vector it gives; removing the shift makes people from different cameras comparable.
2. Neighbour expansion: each centred snapshot vector is averaged with the mean of its ``neighbours`` nearest
   centred snapshots that may be the same person: never one of its own group (its track, the photos linked
   to it, the tracks confirmed with it: the search already pools those) nor of a group known to be another
   person (seen in the same frame, or marked "not them" beside it). A query gets the same expansion from the
   index at search time. Database-side augmentation and query expansion, well known in image retrieval: the
   site's own footage pulls together the views of one person that the embedder alone puts apart.

A linear whitening learned from within-track differences was measured too (bench/adapt_bench.py --help) and
lost accuracy across cameras: the directions in which snapshots of one track differ are also those in which
people differ, and a few hundred snapshots do not estimate 256 dimensions.

Storage: beside the index, ``adaptation/vNNNNNN/`` (meta.json, the video means, the centred and the adapted
vectors as two vector indexes) and ``adaptation/ACTIVE`` naming the version in use or "original". The index's
own vectors are never changed; ``reid adapt INDEX --use original`` returns to them. An adaptation is used
only while the index is the one it was learned from (its vectors' version), and is made active only when the
held-out check (reid_core.report) did not get worse.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from reid_core.durable import fsync_path, replace_synced, write_synced
from reid_core.embed import l2_normalise
from reid_core.index import VectorIndex, saved_version
from reid_core.site import Site
from reid_core.types import ReidError, Vectors

FORMAT = 1
SUBDIR = "adaptation"
ACTIVE = "ACTIVE"
ORIGINAL = "original"
KEEP_VERSIONS = 3

# Rows -> a mask over candidate rows that may not be used as neighbours of that row.
Banned = Callable[[int, npt.NDArray[np.int64]], npt.NDArray[np.bool_]]


class AdaptationError(ReidError):
    """An adaptation folder is missing, damaged or names a version that is not there."""


@dataclass(frozen=True)
class AdaptSettings:
    neighbours: int = 5  # measured on WILDTRACK crops: 3 to 10 within 0.01 of each other
    weight: float = 1.0  # of the neighbours' mean against the vector itself
    other_videos: bool = True  # neighbours only from other videos (cameras)


@dataclass(frozen=True)
class Adaptation:
    settings: AdaptSettings
    video_names: list[str]
    video_means: Vectors  # (videos, d), aligned with video_names
    centred: Vectors  # the site's snapshots, centred and normalised (the memory queries expand from)
    vectors: Vectors  # the adapted snapshot vectors, aligned with the site's keys

    @property
    def query_mean(self) -> Vectors:
        """The centre for a vector whose camera is unknown (a query photo)."""
        mean: Vectors = self.video_means.mean(axis=0).astype(np.float32)
        return mean


def centre(vectors: Vectors, means: Vectors) -> Vectors:
    """(n, d) vectors minus their (n, d) or (d,) centres, normalised."""
    return l2_normalise(np.asarray(vectors, np.float32) - means)


def nearest_allowed(
    queries: Vectors, memory: Vectors, k: int, banned: Banned, *, extra: int = 64
) -> list[npt.NDArray[np.int64]]:
    """Per query row, the rows of memory nearest to it (inner product) that banned() allows, up to k."""
    if len(memory) == 0 or k <= 0:
        return [np.zeros(0, np.int64) for _ in range(len(queries))]
    index = faiss.IndexFlatIP(memory.shape[1])
    index.add(np.ascontiguousarray(memory, np.float32))
    out: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)] * len(queries)
    todo = np.arange(len(queries))
    want = min(len(memory), k + extra)
    while len(todo):
        _, found = index.search(np.ascontiguousarray(queries[todo], np.float32), want)
        again = []
        for qi, rows in zip(todo, found, strict=True):
            rows = rows[rows >= 0].astype(np.int64)
            ok = rows[~banned(int(qi), rows)]
            if len(ok) >= k or want >= len(memory):
                out[qi] = ok[:k]
            else:
                again.append(qi)  # most candidates were banned: look further
        todo = np.array(again, np.int64)
        want = min(len(memory), want * 4)
    return out


def expand(
    centred: Vectors, memory: Vectors, neighbours: list[npt.NDArray[np.int64]], weight: float
) -> Vectors:
    out = np.array(centred, np.float32, copy=True)
    for i, rows in enumerate(neighbours):
        if len(rows):
            out[i] += weight * memory[rows].mean(axis=0)
    return l2_normalise(out)


def _negatives_by_group(site: Site) -> dict[int, npt.NDArray[np.int64]]:
    by: dict[int, list[int]] = {}
    for a, b in site.negatives:
        by.setdefault(a, []).append(b)
        by.setdefault(b, []).append(a)
    return {g: np.array(v, np.int64) for g, v in by.items()}


def site_banned(site: Site, other_videos: bool, hidden: npt.NDArray[np.bool_] | None = None) -> Banned:
    """Neighbours a snapshot may not take: its own group in its own video (its track: the search pools
    those already), groups known to be others, hidden rows, and with other_videos its own video. Its group
    in other videos (tracks a user confirmed as the same person) are the best neighbours it can have."""
    negatives = _negatives_by_group(site)
    none = np.zeros(0, np.int64)

    def banned(row: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        g = site.groups[row]
        groups = site.groups[rows]
        same_video = site.videos[rows] == site.videos[row]
        mask: npt.NDArray[np.bool_] = ((groups == g) & same_video) | np.isin(
            groups, negatives.get(int(g), none)
        )
        if other_videos:
            mask |= same_video
        if hidden is not None:
            mask |= hidden[rows]
        return mask

    return banned


def learn(
    site: Site, settings: AdaptSettings = AdaptSettings(), *, hidden: npt.NDArray[np.bool_] | None = None
) -> Adaptation:
    """hidden: rows nobody may take as a neighbour (the held-out check's hidden snapshots)."""
    if len(site) == 0:
        raise AdaptationError("the index holds no snapshots to learn from")
    d = site.vectors.shape[1]
    means = np.zeros((len(site.video_names), d), np.float32)
    for code in range(len(site.video_names)):
        rows = site.videos == code
        if rows.any():
            means[code] = site.vectors[rows].mean(axis=0)
    centred = centre(site.vectors, means[site.videos])
    nbrs = nearest_allowed(
        centred, centred, settings.neighbours, site_banned(site, settings.other_videos, hidden)
    )
    return Adaptation(
        settings=settings,
        video_names=list(site.video_names),
        video_means=means,
        centred=centred,
        vectors=expand(centred, centred, nbrs, settings.weight),
    )


def adapt_queries(
    adaptation: Adaptation,
    queries: Vectors,
    *,
    means: Vectors | None = None,
    banned: Banned | None = None,
) -> Vectors:
    """Query vectors as the adaptation sees them: centred (on ``means``, default the query mean), then
    expanded from the site's centred snapshots (``banned`` may keep some of them out)."""
    q = centre(l2_normalise(queries), adaptation.query_mean if means is None else means)
    nbrs = nearest_allowed(
        q,
        adaptation.centred,
        adaptation.settings.neighbours,
        banned or (lambda _i, r: np.zeros(len(r), bool)),
    )
    return expand(q, adaptation.centred, nbrs, adaptation.settings.weight)


# ------------------------------------------------------------------ storage beside the index


@dataclass(frozen=True)
class StoredAdaptation:
    """An adaptation as saved: the adapted vectors as a vector index, the memory for query expansion."""

    version: str
    meta: dict[str, Any]
    settings: AdaptSettings
    query_mean: Vectors
    memory: VectorIndex  # centred snapshot vectors
    adapted: VectorIndex  # what a search scores

    def query(self, vectors: Vectors) -> Vectors:
        """A query photo's vector (d,) or (n, d) adapted for searching ``adapted``."""
        q = centre(l2_normalise(np.atleast_2d(vectors)), self.query_mean)
        hits = self.memory.search(q, self.settings.neighbours)
        out = np.array(q, copy=True)
        for i, row in enumerate(hits):
            if row:
                out[i] += self.settings.weight * self.memory.vectors([k for k, _ in row]).mean(axis=0)
        return l2_normalise(out)


def index_version(vectors_dir: Path) -> str | None:
    """The version of an index's vectors, which an adaptation records and must match."""
    return saved_version(vectors_dir)


def save(
    directory: Path,
    site: Site,
    adaptation: Adaptation,
    *,
    built_from: str | None,
    meta: dict[str, Any],
    activate: bool,
) -> str:
    """Write a new version under directory/adaptation; make it ACTIVE when activate. Returns the version."""
    root = Path(directory) / SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[1:]) for p in root.iterdir() if p.is_dir() and p.name[1:].isdigit()]
    version = f"v{max(numbers, default=0) + 1:06d}"
    staging = root / f".{version}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, vecs in (("memory", adaptation.centred), ("adapted", adaptation.vectors)):
            vi = VectorIndex(vecs.shape[1])
            vi.add(site.keys, vecs)
            vi.save(staging / name)
        with open(staging / "means.npy", "wb") as fh:
            np.save(fh, adaptation.video_means, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        doc = {
            "format": FORMAT,
            "version": version,
            "built_from": built_from,
            "snapshots": len(site),
            "videos": adaptation.video_names,
            "settings": asdict(adaptation.settings),
            **meta,
        }
        write_synced(staging / "meta.json", json.dumps(doc, indent=1).encode())
        fsync_path(staging)
        os.rename(staging, root / version)
        fsync_path(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if activate:
        use(directory, version)
    active = active_version(directory)
    keep = sorted(n for n in numbers if f"v{n:06d}" != active)[: max(0, len(numbers) - KEEP_VERSIONS + 1)]
    for n in keep:
        shutil.rmtree(root / f"v{n:06d}", ignore_errors=True)
    return version


def versions(directory: Path) -> list[str]:
    root = Path(directory) / SUBDIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[1:].isdigit())


def active_version(directory: Path) -> str:
    """The version in use, or "original" (also when no adaptation was ever made)."""
    try:
        text = (Path(directory) / SUBDIR / ACTIVE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ORIGINAL
    return text or ORIGINAL


def use(directory: Path, version: str) -> None:
    """Switch searches to a saved version, or back to the original vectors ("original")."""
    if version != ORIGINAL and version not in versions(directory):
        raise AdaptationError(
            f"{directory}: no adaptation {version!r} (saved: {', '.join(versions(directory)) or 'none'})"
        )
    root = Path(directory) / SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    replace_synced(root / ACTIVE, f"{version}\n".encode())


def read_meta(directory: Path, version: str) -> dict[str, Any]:
    path = Path(directory) / SUBDIR / version / "meta.json"
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AdaptationError(f"{path}: cannot read the adaptation ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise AdaptationError(f"{path}: adaptation format {meta.get('format')} is not supported ({FORMAT})")
    return meta


def load_active(directory: Path, vectors_dir: Path) -> tuple[StoredAdaptation | None, str]:
    """The active adaptation if it fits the index as it is now, else None; and a line saying which is used."""
    version = active_version(directory)
    if version == ORIGINAL:
        return None, "original vectors (no adaptation active)"
    meta = read_meta(directory, version)
    now = index_version(vectors_dir)
    if meta.get("built_from") != now:
        return None, (
            f"original vectors: adaptation {version} was learned from index version "
            f"{meta.get('built_from')}, the index is now {now} (run `reid adapt` again)"
        )
    path = Path(directory) / SUBDIR / version
    settings = AdaptSettings(**meta["settings"])
    means = np.load(path / "means.npy", allow_pickle=False)
    stored = StoredAdaptation(
        version=version,
        meta=meta,
        settings=settings,
        query_mean=np.asarray(means.mean(axis=0), np.float32),
        memory=VectorIndex.load(path / "memory"),
        adapted=VectorIndex.load(path / "adapted"),
    )
    return stored, f"adapted vectors ({version}, learned without labels from this index)"


def adapt_known(
    adaptation: Adaptation, site: Site, vectors: Vectors, videos: list[str], frames: list[int]
) -> Vectors:
    """Vectors cut from indexed videos (their video and frame known), adapted as that video's snapshots are:
    centred on the video's mean and expanded from the site, never from their own frame (nor their own
    video when the settings take neighbours from other videos only)."""
    code = {name: i for i, name in enumerate(adaptation.video_names)}
    vid = np.array([code[v] for v in videos], np.int64)
    fr = np.array(frames, np.int64)

    def banned(i: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        same: npt.NDArray[np.bool_] = site.videos[rows] == vid[i]
        if adaptation.settings.other_videos:
            return same
        mask: npt.NDArray[np.bool_] = same & (site.frames[rows] == fr[i])
        return mask

    return adapt_queries(adaptation, vectors, means=adaptation.video_means[vid], banned=banned)
