"""Track metadata saved beside the vector index: per video its tracks (per-frame boxes and times) and
where each snapshot came from. The vectors live in the index; this is everything else a moment needs.

On disk (format 2), in the index folder:

    catalog.json          the manifest: {"format": 2, "models": {...}, "videos": {name: {"file", "bytes",
                          "path", "width", "height", "duration_s", "analysis_fps", "stats"}}}
    catalog/<hex>.video   one file per video, written once and never changed: its snapshots' origins and
                          every track's frames (layout in _encode)

Saving writes a file for each video added or replaced since the catalog was loaded (to a .tmp name, fsynced,
renamed), then replaces the manifest atomically (temporary file, fsync, rename, fsync of the folder). A crash
at any moment leaves the previous or the new manifest, and either names only complete files. Adding a video
writes its file and the manifest; removing one writes the manifest. The files of the manifest a save replaced
are kept for readers that opened it; a save deletes older ones and what crashed saves left.

Loading reads the manifest only. A video's snapshots and track list are read when first used, a track's
frames when that track is asked for: a search reads the videos and tracks its hits need, not the folder.

Format 1 (everything in one catalog.json) is still read, whole; the next save writes format 2.

The format's writer and its lazy reader stay in this one module, long as it is: a change to one must be the
same change to the other.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reid_core.durable import fsync_path, replace_synced, write_synced
from reid_core.types import ReidError, Track, TrackFrame, VideoIngest

FILENAME = "catalog.json"
STORE_SUBDIR = "catalog"
LOCKFILE = ".catalog.lock"
FORMAT = 2

# A video file: MAGIC, the header's length (8 bytes, little-endian), the header (JSON), then the frames of
# every track one after another as little-endian float64 rows (frame, t, x, y, w, h, score).
MAGIC = b"reidcat2"
_PREFIX = len(MAGIC) + 8
_ROW = 7
_ROW_BYTES = 8 * _ROW
_FILE_NAME = re.compile(r"[0-9a-f]{32}\.video")


class CatalogError(ReidError):
    pass


@dataclass(frozen=True)
class SnapshotInfo:
    track_id: int
    snapshot: int
    frame: int
    t: float
    box: tuple[float, float, float, float]
    quality: float


@dataclass
class VideoRecord:
    """One video. tracks and snapshots (by track id) are dicts when built in memory, and read-only views of
    the video's file when loaded or after a save (read on first use)."""

    video: str
    path: str
    width: int
    height: int
    duration_s: float
    analysis_fps: float | None
    tracks: Mapping[int, Track] = field(default_factory=dict)
    snapshots: Mapping[int, list[SnapshotInfo]] = field(default_factory=dict)  # by track id
    stats: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # a folder of images: the image file of each frame index

    def file_of(self, frame: int) -> str | None:
        return self.files[frame] if 0 <= frame < len(self.files) else None


@dataclass
class Catalog:
    models: dict[str, Any] = field(default_factory=dict)  # pack, detector, embedder, dim, appearance_only
    videos: dict[str, VideoRecord] = field(default_factory=dict)

    def add(self, ingest: VideoIngest) -> VideoRecord:
        """Adds (or replaces) one ingested video."""
        snapshots: dict[int, list[SnapshotInfo]] = {}
        for s in ingest.snapshots:
            snapshots.setdefault(s.track_id, []).append(
                SnapshotInfo(s.track_id, s.snapshot, s.frame, s.t, s.box, s.quality)
            )
        rec = VideoRecord(
            video=ingest.video,
            path=ingest.path,
            width=ingest.width,
            height=ingest.height,
            duration_s=ingest.duration_s,
            analysis_fps=ingest.analysis_fps,
            tracks={t.track_id: t for t in ingest.tracks},
            snapshots=snapshots,
            stats={
                "frames_decoded": ingest.stats.frames_decoded,
                "frames_analysed": ingest.stats.frames_analysed,
                "detections": ingest.stats.detections,
                "tracks": ingest.stats.tracks,
                "embed_calls": ingest.stats.embed_calls,
                "seconds": ingest.stats.seconds,
            },
            files=ingest.files,
        )
        self.videos[ingest.video] = rec
        return rec

    def remove(self, video: str) -> bool:
        return self.videos.pop(video, None) is not None

    def track(self, video: str, track_id: int) -> Track:
        try:
            return self.videos[video].tracks[track_id]
        except KeyError:
            raise CatalogError(f"no track {track_id} of video {video!r} in the catalog") from None

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        """Writes the files of videos not already stored in this folder, then replaces the manifest.

        Saves into one folder take turns (a lock file), so that no save deletes a file another is about to
        name. They do not merge: the last manifest written wins, as with any load-change-save.
        """
        directory = Path(directory)
        store = directory / STORE_SUBDIR
        if not store.is_dir():
            store.mkdir(parents=True, exist_ok=True)
            fsync_path(directory)  # the folder is on disk before a manifest names a file in it
        with _locked(directory / LOCKFILE):
            self._save(directory, store)

    def _save(self, directory: Path, store: Path) -> None:
        here = store.resolve()
        entries: dict[str, dict[str, Any]] = {}
        rebind: list[tuple[VideoRecord, _VideoFile]] = []
        for name, rec in self.videos.items():
            source = _stored_file(rec)
            if source is not None and source.store == here:
                try:
                    unchanged = source.path.stat().st_size == source.size
                except FileNotFoundError:
                    unchanged = False
                if not unchanged:
                    raise CatalogError(
                        f"{source.path}: the file of video {name!r} is gone or changed; the catalog changed "
                        "on disk after it was loaded (load it again)"
                    )
                target = source
            else:
                data = source.read_all() if source is not None else _encode(rec)
                target = _VideoFile(here / f"{uuid.uuid4().hex}.video", len(data), name)
                tmp = store / f".{target.path.name}.tmp"
                write_synced(tmp, data)
                os.rename(tmp, target.path)
                if source is None:
                    target.preload(rec)
                rebind.append((rec, target))
            entries[name] = {
                "file": target.path.name,
                "bytes": target.size,
                "path": rec.path,
                "width": rec.width,
                "height": rec.height,
                "duration_s": rec.duration_s,
                "analysis_fps": rec.analysis_fps,
                "stats": rec.stats,
                **({"files": list(rec.files)} if rec.files else {}),
            }
        if rebind:
            fsync_path(store)
        replaced = _manifest_files(directory / FILENAME)
        # "models" right after "format": readers may take it from the head of the file without parsing all.
        manifest = {"format": FORMAT, "models": self.models, "videos": entries}
        replace_synced(directory / FILENAME, json.dumps(manifest, separators=(",", ":")).encode())
        for rec, target in rebind:  # from now on the record is its file (nothing is written twice)
            rec.tracks, rec.snapshots = StoredTracks(target), StoredSnapshots(target)
        keep = {e["file"] for e in entries.values()} | replaced
        leftovers = [Path(e.path) for e in os.scandir(store) if e.is_file() and e.name not in keep]
        leftovers += directory.glob(f".{FILENAME}.*.tmp")  # manifests of saves that crashed
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        """The manifest only: each video's file is read when its snapshots or tracks are first used."""
        path = Path(directory) / FILENAME
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise CatalogError(
                f"{path}: no catalog here; build one with `reid index FOOTAGE --out DIR`"
            ) from None
        except (OSError, ValueError) as exc:
            raise CatalogError(f"{path}: unreadable catalog ({exc})") from exc
        fmt = raw.get("format") if isinstance(raw, dict) else None
        if fmt not in (1, 2):
            raise CatalogError(f"{path}: catalog format {fmt!r}, this version reads formats 1 and 2")
        try:
            return _load_v1(raw) if fmt == 1 else _load_v2(raw, Path(directory) / STORE_SUBDIR)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CatalogError(f"{path}: damaged catalog ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------- per-video files


@dataclass
class _Header:
    snapshots: dict[int, list[SnapshotInfo]]
    tracks: dict[int, tuple[int, int]]  # track id -> (first row, rows)


class _VideoFile:
    """One video's file, read lazily: the header when first needed, a track's rows when asked for."""

    def __init__(self, path: Path, size: int, video: str) -> None:
        self.path = path
        self.store = path.parent
        self.size = size
        self.video = video
        self._header: _Header | None = None
        self._body = 0
        self.tracks: dict[int, Track] = {}  # read (or preloaded) tracks

    def preload(self, rec: VideoRecord) -> None:
        """Just written from rec: serve its data from memory."""
        snapshots = {tid: list(snaps) for tid, snaps in rec.snapshots.items()}
        tracks: dict[int, tuple[int, int]] = {}
        row = 0
        for tid, track in rec.tracks.items():
            tracks[tid] = (row, len(track.frames))
            row += len(track.frames)
            self.tracks[tid] = track
        self._header = _Header(snapshots, tracks)

    def _damaged(self, why: str) -> CatalogError:
        return CatalogError(f"{self.path}: damaged catalog file of video {self.video!r} ({why})")

    def _open(self) -> Any:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise CatalogError(
                f"{self.path}: the file of video {self.video!r} is gone; the catalog changed on disk after "
                "it was loaded (load it again)"
            ) from None

    def header(self) -> _Header:
        if self._header is not None:
            return self._header
        with self._open() as fh:
            actual = os.fstat(fh.fileno()).st_size
            if actual != self.size:
                raise self._damaged(f"{actual} bytes, the manifest says {self.size}")
            prefix = fh.read(_PREFIX)
            if len(prefix) != _PREFIX or prefix[: len(MAGIC)] != MAGIC:
                raise self._damaged("not a catalog video file")
            (length,) = struct.unpack("<Q", prefix[len(MAGIC) :])
            if _PREFIX + length > self.size:
                raise self._damaged("header runs past the end")
            try:
                raw = json.loads(fh.read(length))
                snapshots: dict[int, list[SnapshotInfo]] = {}
                for r in raw["snapshots"]:
                    info = SnapshotInfo(
                        int(r[0]), int(r[1]), int(r[2]), float(r[3]), (r[4], r[5], r[6], r[7]), float(r[8])
                    )
                    snapshots.setdefault(info.track_id, []).append(info)
                tracks = {int(t): (int(first), int(rows)) for t, first, rows in raw["tracks"]}
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise self._damaged(f"header: {exc}") from exc
        expected = _PREFIX + length + _ROW_BYTES * sum(n for _, n in tracks.values())
        if expected != self.size:
            raise self._damaged(f"{self.size} bytes where its header describes {expected}")
        self._body = _PREFIX + length
        self._header = _Header(snapshots, tracks)
        return self._header

    def track(self, track_id: int) -> Track:
        """KeyError for a track the video does not have."""
        track = self.tracks.get(track_id)
        if track is not None:
            return track
        first, rows = self.header().tracks[track_id]
        with self._open() as fh:
            fh.seek(self._body + first * _ROW_BYTES)
            data = fh.read(rows * _ROW_BYTES)
        if len(data) != rows * _ROW_BYTES:
            raise self._damaged(f"track {track_id} is cut short")
        track = Track(track_id, _decode_frames(data))
        self.tracks[track_id] = track
        return track

    def read_all(self) -> bytes:
        with self._open() as fh:
            data: bytes = fh.read()
        if len(data) != self.size:
            raise self._damaged(f"{len(data)} bytes, the manifest says {self.size}")
        return data


class StoredTracks(Mapping[int, Track]):
    """Track id -> Track of one stored video; a track's frames are read when it is first asked for."""

    def __init__(self, file: _VideoFile) -> None:
        self.file = file

    def __getitem__(self, track_id: int) -> Track:
        return self.file.track(track_id)

    def __iter__(self) -> Iterator[int]:
        return iter(self.file.header().tracks)

    def __len__(self) -> int:
        return len(self.file.header().tracks)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.file.header().tracks


class StoredSnapshots(Mapping[int, list[SnapshotInfo]]):
    """Track id -> its snapshots' origins, for one stored video (read with the file's header)."""

    def __init__(self, file: _VideoFile) -> None:
        self.file = file

    def __getitem__(self, track_id: int) -> list[SnapshotInfo]:
        return self.file.header().snapshots[track_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self.file.header().snapshots)

    def __len__(self) -> int:
        return len(self.file.header().snapshots)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.file.header().snapshots


def _stored_file(rec: VideoRecord) -> _VideoFile | None:
    """The file rec's tracks and snapshots come from, if both still do."""
    t, s = rec.tracks, rec.snapshots
    if isinstance(t, StoredTracks) and isinstance(s, StoredSnapshots) and t.file is s.file:
        return t.file
    return None


def _encode(rec: VideoRecord) -> bytes:
    snapshots = [
        [s.track_id, s.snapshot, s.frame, s.t, *s.box, s.quality]
        for snaps in rec.snapshots.values()
        for s in snaps
    ]
    index: list[list[int]] = []
    blocks: list[bytes] = []
    row = 0
    for tid, track in rec.tracks.items():
        rows = np.array([[f.frame, f.t, *f.box, f.score] for f in track.frames], dtype="<f8")
        rows = rows.reshape(-1, _ROW)
        index.append([tid, row, len(rows)])
        blocks.append(rows.tobytes())
        row += len(rows)
    header = json.dumps({"snapshots": snapshots, "tracks": index}, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<Q", len(header)), header, *blocks])


def _decode_frames(data: bytes) -> list[TrackFrame]:
    rows = np.frombuffer(data, dtype="<f8").reshape(-1, _ROW).tolist()
    return [TrackFrame(int(r[0]), r[1], (r[2], r[3], r[4], r[5]), r[6]) for r in rows]


# ---------------------------------------------------------------- manifests


def _load_v2(raw: dict[str, Any], store: Path) -> Catalog:
    cat = Catalog(models=dict(raw.get("models", {})))
    here = store.resolve()
    for name, v in raw["videos"].items():
        fname = v["file"]
        if not isinstance(fname, str) or not _FILE_NAME.fullmatch(fname):
            raise ValueError(f"video {name!r} names the file {fname!r}")
        file = _VideoFile(here / fname, int(v["bytes"]), name)
        cat.videos[name] = VideoRecord(
            video=name,
            path=v["path"],
            width=int(v["width"]),
            height=int(v["height"]),
            duration_s=float(v["duration_s"]),
            analysis_fps=v["analysis_fps"],
            tracks=StoredTracks(file),
            snapshots=StoredSnapshots(file),
            stats=v.get("stats", {}),
            files=tuple(str(f) for f in v.get("files", ())),
        )
    return cat


def _load_v1(raw: dict[str, Any]) -> Catalog:
    cat = Catalog(models=dict(raw.get("models", {})))
    for name, v in raw["videos"].items():
        tracks: dict[int, Track] = {}
        snapshots: dict[int, list[SnapshotInfo]] = {}
        for tid, rows in v["tracks"].items():
            frames = [TrackFrame(int(r[0]), float(r[1]), (r[2], r[3], r[4], r[5]), float(r[6])) for r in rows]
            tracks[int(tid)] = Track(int(tid), frames)
        for r in v["snapshots"]:
            info = SnapshotInfo(
                int(r[0]), int(r[1]), int(r[2]), float(r[3]), (r[4], r[5], r[6], r[7]), float(r[8])
            )
            snapshots.setdefault(info.track_id, []).append(info)
        cat.videos[name] = VideoRecord(
            video=name,
            path=v["path"],
            width=int(v["width"]),
            height=int(v["height"]),
            duration_s=float(v["duration_s"]),
            analysis_fps=v["analysis_fps"],
            tracks=tracks,
            snapshots=snapshots,
            stats=v.get("stats", {}),
            files=tuple(str(f) for f in v.get("files", ())),
        )
    return cat


def _manifest_files(path: Path) -> set[str]:
    """The video files a manifest on disk names (none for format 1, a missing or damaged manifest)."""
    try:
        raw = json.loads(path.read_bytes())
        return {str(v["file"]) for v in raw["videos"].values()} if raw.get("format") == 2 else set()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock
