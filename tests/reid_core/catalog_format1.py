"""The catalog's previous on-disk format (1: everything in one catalog.json), written exactly as the engine
wrote it before format 2, so tests and bench/search_bench.py can build old folders to read and compare."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reid_core.catalog import FILENAME, Catalog


def dump_format1(cat: Catalog) -> dict[str, Any]:
    videos = {}
    for name, rec in cat.videos.items():
        videos[name] = {
            "path": rec.path,
            "width": rec.width,
            "height": rec.height,
            "duration_s": rec.duration_s,
            "analysis_fps": rec.analysis_fps,
            "stats": rec.stats,
            # Frames as compact rows: frame, t, x, y, w, h, score.
            "tracks": {
                str(tid): [[f.frame, f.t, *f.box, f.score] for f in tr.frames]
                for tid, tr in rec.tracks.items()
            },
            "snapshots": [
                [s.track_id, s.snapshot, s.frame, s.t, *s.box, s.quality]
                for snaps in rec.snapshots.values()
                for s in snaps
            ],
        }
    return {"format": 1, "models": cat.models, "videos": videos}


def save_format1(cat: Catalog, directory: Path) -> None:
    """Catalog.save as it was for format 1: one JSON file, replaced atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps(dump_format1(cat), separators=(",", ":")).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{FILENAME}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / FILENAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
