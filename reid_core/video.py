"""Footage in: decoded frames with their stream timestamps, from a video file, an image or a folder of images.

Timestamps come from each frame's pts (variable frame rate safe), relative to the stream's start, so they
are what a player seeks to. Only frames picked by the analysis rate are converted to BGR arrays.
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
from PIL import Image as PILImage

from reid_core.types import EmptyFootageError, FootageError, Frame, Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# How a folder of images is read: "gallery" (unrelated photos, each on its own), "sequence" (frames of one
# camera, tracked like a video), or "auto" (decided by sequence_like below).
ImagesMode = Literal["auto", "gallery", "sequence"]
# Frame rate assumed for a folder of frames, which carries none: stills exported from CCTV are typically a
# frame or two a second. It sets the tracker's clock and the moments' times.
SEQUENCE_FPS = 2.0
SEQUENCE_MIN_FRAMES = 20


@dataclass(frozen=True)
class FootageInfo:
    path: Path
    is_gallery: bool  # still images: every frame stands alone, no tracking across them
    width: int  # of the first frame (galleries may mix sizes)
    height: int
    frame_count: int | None  # from the container; an estimate for some formats
    duration_s: float | None
    files: tuple[str, ...] = ()  # a folder or an image: image file names in frame order
    fps: float | None = (
        None  # the stream's average rate (SEQUENCE_FPS for image sequences, None for galleries)
    )


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> Image:
    """Read one still image as BGR, or raise FootageError naming the file."""
    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise FootageError(f"{path}: no such image file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise FootageError(f"{path}: not a readable image (corrupt or unsupported format)")
    return np.ascontiguousarray(image, dtype=np.uint8)


def _gallery_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
    if not files:
        raise EmptyFootageError(f"{folder}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding the pixels."""
    try:
        with PILImage.open(path) as im:
            return (int(im.width), int(im.height))
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None


def sequence_like(files: list[Path]) -> bool:
    """A folder of frames of one camera rather than unrelated photos: at least SEQUENCE_MIN_FRAMES images,
    all the same size, named alike with a frame number (e.g. 000123.jpg, cam1_0012.png) that grows in name
    order. A short run of stills is searched photo by photo: stills a second or two apart are too far apart
    for IoU tracking (WILDTRACK's 11 frames at 2 fps a camera: frame AP across cameras 0.105 tracked against
    0.339 photo by photo, `reid eval-xcam --images sequence|gallery`), and a photo is one chance."""
    if len(files) < SEQUENCE_MIN_FRAMES:
        return False
    stems = [re.fullmatch(r"(.*?)(\d+)(\D*)", f.stem) for f in files]
    if any(m is None for m in stems):
        return False
    templates = {(m.group(1), m.group(3), f.suffix.lower()) for m, f in zip(stems, files, strict=True) if m}
    numbers = [int(m.group(2)) for m in stems if m]
    if len(templates) != 1 or any(b <= a for a, b in itertools.pairwise(numbers)):
        return False
    return len({_image_size(f) for f in files}) == 1


def probe(path: Path, images: ImagesMode = "auto") -> FootageInfo:
    """What the footage is, without decoding it all. Raises FootageError naming the file."""
    path = Path(path)
    if path.is_dir():
        files = _gallery_files(path)
        first = read_image(files[0])
        sequence = images == "sequence" or (images == "auto" and sequence_like(files))
        return FootageInfo(
            path=path,
            is_gallery=not sequence,
            width=first.shape[1],
            height=first.shape[0],
            frame_count=len(files),
            duration_s=len(files) / SEQUENCE_FPS if sequence else None,
            files=tuple(f.name for f in files),
            fps=SEQUENCE_FPS if sequence else None,
        )
    if is_image(path):
        image = read_image(path)
        return FootageInfo(path, True, image.shape[1], image.shape[0], 1, None, (path.name,))
    if not path.is_file():
        raise FootageError(f"{path}: no such file or folder")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FootageError(f"{path}: holds no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            frames = int(stream.frames) or None
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            if ctx.width <= 0 or ctx.height <= 0:
                raise FootageError(f"{path}: video stream has no frame size (corrupt header?)")
            rate = float(stream.average_rate) if stream.average_rate else None
            return FootageInfo(path, False, int(ctx.width), int(ctx.height), frames, duration, fps=rate)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FootageError(f"{path}: not a readable video ({exc})") from exc


class FrameSampler:
    """Picks frames at an analysis rate from their timestamps (None: every frame)."""

    def __init__(self, analysis_fps: float | None) -> None:
        if analysis_fps is not None and analysis_fps <= 0:
            raise ValueError("analysis_fps must be positive")
        self.period = 0.0 if analysis_fps is None else 1.0 / analysis_fps
        self.next_t = float("-inf")

    def take(self, t: float) -> bool:
        # Half a millisecond of slack: pts rounding must not drop a frame that is due.
        if t + 5e-4 < self.next_t:
            return False
        # Step from the due time, not from t, so the rate holds on average; resync after gaps.
        self.next_t = t + self.period if t - self.next_t > self.period else self.next_t + self.period
        return True


def iter_frames(
    path: Path,
    analysis_fps: float | None = None,
    times: list[float] | None = None,
    images: ImagesMode = "auto",
    only: set[int] | None = None,
) -> Iterator[Frame]:
    """Decoded frames at the analysis rate. Frame.index counts every decoded frame from 0.

    times, when given, receives the timestamp of every decoded frame, analysed or not. only, when given,
    yields just those frame indices (every frame is still decoded, but only they are converted).
    """
    path = Path(path)
    info = probe(path, images)
    if info.files:
        files = [path / name for name in info.files] if path.is_dir() else [path]
        # A gallery is not a timeline: t is the image's position, one "second" per image. A sequence's
        # frames are SEQUENCE_FPS apart; every one is analysed.
        step = 1.0 / info.fps if info.fps else 1.0
        for i, file in enumerate(files):
            if times is not None:
                times.append(i * step)
            if only is None or i in only:
                yield Frame(index=i, t=i * step, image=read_image(file))
        return
    sampler = FrameSampler(analysis_fps)
    decoded = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = stream.start_time or 0
            tb = stream.time_base
            last_t = -1.0
            step = 1.0 / float(stream.average_rate) if stream.average_rate else 0.04
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                # A frame with no timestamp at all is placed one nominal frame after the previous one.
                t = float((pts - start) * tb) if pts is not None and tb is not None else last_t + step
                last_t = t
                if times is not None:
                    times.append(t)
                index = decoded
                decoded += 1
                if (only is None or index in only) and sampler.take(t):
                    image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                    yield Frame(index=index, t=t, image=image)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FootageError(f"{path}: decoding failed after {decoded} frames ({exc})") from exc
    if decoded == 0:
        raise EmptyFootageError(f"{path}: no frame could be decoded")


_DONE = object()


def prefetch(frames: Iterator[Frame], depth: int = 4) -> Generator[Frame, None, None]:
    """Decode ahead in a background thread (PyAV and ONNX Runtime release the GIL, so decoding overlaps
    detection). At most `depth` frames wait in memory; a decoding error is re-raised in the caller.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            q.put(exc)

    thread = threading.Thread(target=work, name="reid-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Frame)
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
