"""Dataclasses and errors shared by the engine's stages (no behaviour beyond validation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# (x, y, w, h) in the source image's own pixel coordinates.
Box = tuple[float, float, float, float]
Image = npt.NDArray[np.uint8]  # BGR, H x W x 3
Vectors = npt.NDArray[np.float32]


class ReidError(Exception):
    """Base of every error the engine raises on purpose; the message is meant for a user."""


class FootageError(ReidError):
    """A video or image could not be read; the message names the file."""


class EmptyFootageError(FootageError):
    """A folder or video held nothing to analyse."""


class NoPersonError(ReidError):
    """A query photo contains no person the detector could find."""


class CancelledError(ReidError):
    """Work was stopped through a should_stop hook."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame. index is the 0-based decoded frame index; t is its pts in seconds."""

    index: int
    t: float
    image: Image


@dataclass(frozen=True)
class Progress:
    stage: str  # "decode+detect" | "embed" | ...
    done: int
    total: int | None
    fps: float
    eta_s: float | None


@dataclass(frozen=True)
class TrackFrame:
    frame: int
    t: float
    box: Box
    score: float  # detector score; 0.0 where the box was interpolated across a short gap


@dataclass
class Track:
    track_id: int
    frames: list[TrackFrame] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        return self.frames[0].t

    @property
    def end_s(self) -> float:
        return self.frames[-1].t


@dataclass(frozen=True)
class Snapshot:
    """A crop chosen to represent a track; vector is L2-normalised."""

    track_id: int
    snapshot: int  # 0-based number within the track
    frame: int
    t: float
    box: Box
    quality: float
    vector: Vectors


@dataclass(frozen=True)
class IngestStats:
    frames_decoded: int
    frames_analysed: int
    detections: int
    tracks: int
    embed_calls: int
    seconds: dict[str, float]  # wall time per stage


@dataclass(frozen=True)
class VideoIngest:
    video: str
    path: str
    width: int
    height: int
    duration_s: float
    analysis_fps: float | None
    tracks: list[Track]
    snapshots: list[Snapshot]
    stats: IngestStats
    files: tuple[str, ...] = ()  # a folder of images: the image file of each frame index


@dataclass(frozen=True)
class QueryCandidate:
    box: Box
    score: float


@dataclass(frozen=True)
class Moment:
    video: str
    track_id: int
    score: float
    start_s: float
    end_s: float
    best: TrackFrame
    frames: list[TrackFrame]
    image: str | None = None  # footage that is a folder of images: the file of the best frame
