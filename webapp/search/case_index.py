"""The case's search index as the search worker reads it: the footage app's vectors + catalog (the layout
`reid index --out` writes), kept in memory per worker process until the files change on disk.

A case with hours of footage has a catalog of many megabytes; parsing it again for every query would cost
more than the search itself, so a loaded (index, catalog) pair is reused while the catalog file and the
index's CURRENT version are the ones it was loaded from (both are replaced atomically by the footage app).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from reid_core.catalog import FILENAME as CATALOG_FILE
from reid_core.catalog import Catalog
from reid_core.index import VectorIndex
from webapp.footage.models import Track, VideoStatus
from webapp.footage.services import VECTORS_SUBDIR, index_dir, load_case_index

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
    return ready and (index_dir(case_id) / CATALOG_FILE).exists()


def _version(directory: Path) -> tuple[object, ...]:
    catalog = (directory / CATALOG_FILE).stat()
    current = (directory / VECTORS_SUBDIR / "CURRENT").read_bytes()
    return (catalog.st_mtime_ns, catalog.st_size, catalog.st_ino, current)


def load(case_id: int) -> tuple[VectorIndex, Catalog]:
    """The case's (index, catalog); EmptyCaseError when nothing is indexed."""
    directory = index_dir(case_id)
    try:
        version = _version(directory)
    except OSError:
        raise EmptyCaseError(EMPTY_CASE_MESSAGE) from None
    with _lock:
        cached = _cache.get(case_id)
        if cached is not None and cached[0] == version:
            _cache.move_to_end(case_id)
            return cached[1], cached[2]
    loaded = load_case_index(case_id)
    if loaded is None or len(loaded[0]) == 0:
        raise EmptyCaseError(EMPTY_CASE_MESSAGE)
    with _lock:
        _cache[case_id] = (version, *loaded)
        _cache.move_to_end(case_id)
        while len(_cache) > CACHED_CASES:
            _cache.popitem(last=False)
    return loaded
