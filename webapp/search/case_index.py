"""The case's search index as the search worker reads it: the footage app's vectors (cases/<case>/index/
vectors, a reid_core VectorIndex) and a reid_core Catalog built from the database rows.

Why not the catalog beside the vectors (the `reid` CLI's layout, which the footage app also writes)? When
it was one JSON file, parsing its millions of per-frame boxes took most of a cold search at ten hours of
footage (format 2 is read lazily instead: docs/index.md). The search only needs where each snapshot came
from, plus the boxes of the few tracks it returns: those are read from the database, the boxes lazily.
Ranking depends only on the vectors and the snapshot-to-track mapping, so the result is the one `reid search`
gives on the same folder (tests/webapp/search/test_search_worker.py checks it).

A loaded (index, catalog) pair is reused by the worker process while the folder's version is the one it was
loaded at (the footage app replaces the vectors and the catalog atomically on every change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from reid_core import index_folder
from reid_core.catalog import Catalog, SnapshotInfo, VideoRecord
from reid_core.index import VectorIndex
from reid_core.types import Track as EngineTrack
from reid_core.types import TrackFrame
from webapp.footage.index_store import index_dir
from webapp.footage.models import Snapshot, Track, Video, VideoStatus

EMPTY_CASE_MESSAGE = (
    "This case has no analysed footage yet, so there is nothing to search. "
    "Add videos and wait for their analysis to finish."
)
CACHED_CASES = 4

_lock = threading.Lock()
_cache: OrderedDict[int, tuple[tuple[object, ...], VectorIndex, Catalog]] = OrderedDict()


class EmptyCaseError(Exception):
    """Nothing searchable in the case yet; the message says what to do."""


def has_searchable_footage(case_id: int) -> bool:
    ready = Track.objects.filter(video__case_id=case_id, video__status=VideoStatus.READY).exists()
    return ready and index_folder.has_vectors(index_dir(case_id))


def load(case_id: int) -> tuple[VectorIndex, Catalog]:
    """The case's (index, catalog); EmptyCaseError when nothing is indexed."""
    directory = index_dir(case_id)
    try:
        version = index_folder.version(directory)
    except OSError:
        raise EmptyCaseError(EMPTY_CASE_MESSAGE) from None
    with _lock:
        cached = _cache.get(case_id)
        if cached is not None and cached[0] == version:
            _cache.move_to_end(case_id)
            return cached[1], cached[2]
    index = index_folder.load_vectors(directory)
    if len(index) == 0:
        raise EmptyCaseError(EMPTY_CASE_MESSAGE)
    catalog = build_catalog(case_id, models=index_folder.read_models(directory))
    with _lock:
        _cache[case_id] = (version, index, catalog)
        _cache.move_to_end(case_id)
        while len(_cache) > CACHED_CASES:
            _cache.popitem(last=False)
    return index, catalog


def track_from_boxes(track_id: int, boxes: list[list[float]]) -> EngineTrack:
    """A reid_core Track from the footage app's per-frame rows [frame, t, x, y, w, h]."""
    return EngineTrack(
        track_id, [TrackFrame(int(r[0]), float(r[1]), (r[2], r[3], r[4], r[5]), 0.0) for r in boxes]
    )


class _LazyTracks(dict[int, EngineTrack]):
    """Track id -> reid_core Track of one video, read from the database on first access."""

    def __init__(self, video_id: int) -> None:
        super().__init__()
        self.video_id = video_id

    def __missing__(self, track_id: int) -> EngineTrack:
        rows = Track.objects.filter(video_id=self.video_id, track_id=track_id)
        row = rows.values_list("boxes", flat=True).first()
        if row is None:
            raise KeyError(track_id)
        track = track_from_boxes(track_id, row)
        self[track_id] = track
        return track


def build_catalog(case_id: int, models: dict[str, Any] | None = None) -> Catalog:
    """The catalog of the case's ready videos: every snapshot's place, tracks loaded when first asked for."""
    videos = list(Video.objects.filter(case_id=case_id, status=VideoStatus.READY))
    catalog = Catalog(models=dict(models or {}))
    snapshots: dict[str, dict[int, list[SnapshotInfo]]] = {str(video.pk): {} for video in videos}
    for video in videos:
        catalog.videos[str(video.pk)] = VideoRecord(
            video=str(video.pk),
            path=video.original.name or "",
            width=video.width or 0,
            height=video.height or 0,
            duration_s=video.duration_s or 0.0,
            analysis_fps=None,
            tracks=_LazyTracks(video.pk),
            snapshots=snapshots[str(video.pk)],
        )
    rows = Snapshot.objects.filter(track__video__in=videos).values_list(
        "track__video_id", "track__track_id", "ordinal", "frame", "t", "box", "quality"
    )
    for video_id, track_id, ordinal, frame, t, box, quality in rows.iterator(chunk_size=10_000):
        info = SnapshotInfo(track_id, ordinal, frame, t, (box[0], box[1], box[2], box[3]), quality or 0.0)
        snapshots[str(video_id)].setdefault(track_id, []).append(info)
    for by_track in snapshots.values():
        for snaps in by_track.values():
            snaps.sort(key=lambda s: s.snapshot)
    return catalog
