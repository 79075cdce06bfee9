"""Track metadata saved beside the vector index: per video its tracks (per-frame boxes and times) and
where each snapshot came from. The vectors live in the index; this is everything else a moment needs.

Saved as one JSON file, replaced atomically (write a temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reid_core.types import ReidError, Track, TrackFrame, VideoIngest

FILENAME = "catalog.json"
FORMAT = 1


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
    video: str
    path: str
    width: int
    height: int
    duration_s: float
    analysis_fps: float | None
    tracks: dict[int, Track] = field(default_factory=dict)
    snapshots: dict[int, list[SnapshotInfo]] = field(default_factory=dict)  # by track id
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Catalog:
    models: dict[str, Any] = field(default_factory=dict)  # pack, detector, embedder, dim, appearance_only
    videos: dict[str, VideoRecord] = field(default_factory=dict)

    def add(self, ingest: VideoIngest) -> VideoRecord:
        """Adds (or replaces) one ingested video."""
        rec = VideoRecord(
            video=ingest.video,
            path=ingest.path,
            width=ingest.width,
            height=ingest.height,
            duration_s=ingest.duration_s,
            analysis_fps=ingest.analysis_fps,
            tracks={t.track_id: t for t in ingest.tracks},
            stats={
                "frames_decoded": ingest.stats.frames_decoded,
                "frames_analysed": ingest.stats.frames_analysed,
                "detections": ingest.stats.detections,
                "tracks": ingest.stats.tracks,
                "embed_calls": ingest.stats.embed_calls,
                "seconds": ingest.stats.seconds,
            },
        )
        for s in ingest.snapshots:
            rec.snapshots.setdefault(s.track_id, []).append(
                SnapshotInfo(s.track_id, s.snapshot, s.frame, s.t, s.box, s.quality)
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
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(_dump(self), separators=(",", ":")).encode()
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

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        path = Path(directory) / FILENAME
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise CatalogError(
                f"{path}: no catalog here; build one with `reid index FOOTAGE --out DIR`"
            ) from None
        except (OSError, ValueError) as exc:
            raise CatalogError(f"{path}: unreadable catalog ({exc})") from exc
        if raw.get("format") != FORMAT:
            raise CatalogError(f"{path}: catalog format {raw.get('format')!r}, this version reads {FORMAT}")
        return _load(raw)


def _dump(cat: Catalog) -> dict[str, Any]:
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
    return {"format": FORMAT, "models": cat.models, "videos": videos}


def _load(raw: dict[str, Any]) -> Catalog:
    cat = Catalog(models=dict(raw.get("models", {})))
    for name, v in raw["videos"].items():
        rec = VideoRecord(
            video=name,
            path=v["path"],
            width=int(v["width"]),
            height=int(v["height"]),
            duration_s=float(v["duration_s"]),
            analysis_fps=v["analysis_fps"],
            stats=v.get("stats", {}),
        )
        for tid, rows in v["tracks"].items():
            frames = [TrackFrame(int(r[0]), float(r[1]), (r[2], r[3], r[4], r[5]), float(r[6])) for r in rows]
            rec.tracks[int(tid)] = Track(int(tid), frames)
        for r in v["snapshots"]:
            info = SnapshotInfo(
                int(r[0]), int(r[1]), int(r[2]), float(r[3]), (r[4], r[5], r[6], r[7]), float(r[8])
            )
            rec.snapshots.setdefault(info.track_id, []).append(info)
        cat.videos[name] = rec
    return cat
