"""Video files on disk: probe, browser-playable rendition, poster.

Pure functions over paths (no Django, no models) so they can be tested on real files alone. The original
file is evidence: nothing here writes to it; outputs are written to a temporary name beside the target and
renamed into place, so a crash never leaves a half-written rendition or poster under the final name.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from reid_core.durable import fsync_path

# Demuxers that read still images: a photo opens as a one-frame "video" and must be rejected.
_IMAGE_FORMATS = {"image2", "gif", "webp_pipe", "apng"}
# Containers and codecs Chromium, Firefox and Safari all play without a rendition.
_PLAYABLE = {
    "mov,mp4,m4a,3gp,3g2,mj2": {"h264"},
    "matroska,webm": {"vp8", "vp9", "av1"},
}
_PLAYABLE_PIX_FMTS = {"yuv420p", "yuvj420p"}
# A file whose demuxed frames fall short of what its header announces by more than this is truncated.
_TRUNCATION_TOLERANCE = 0.01


class MediaError(Exception):
    """A file that cannot be accepted; the message is shown to the user as is."""


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frames: int
    pix_fmt: str
    browser_playable: bool
    # The container's creation_time tag (UTC), when it holds a plausible date: a default for the recording
    # start that people can correct (camera clocks drift; some exporters write the export time instead).
    creation_time: datetime | None = None

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


def probe(path: Path, *, decode_budget_s: float = 5.0) -> VideoInfo:
    """Check that ``path`` is a complete, decodable video and describe it.

    Every packet of the video stream is demuxed (cheap: I/O bound) so a truncated file is caught by
    comparing what the header announces with what is present. Frames are decoded from the start for up to
    ``decode_budget_s`` seconds (the whole file for short clips), then at a few points spread over the rest;
    the ingest job decodes every frame later and fails with a clear message on damage found there.
    """
    size = path.stat().st_size
    if size == 0:
        raise MediaError("The file is empty (0 bytes).")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise MediaError("This is not a video file that can be read (no known video format found).") from exc
    except av.error.FFmpegError as exc:
        raise MediaError(f"The file cannot be opened as a video: {exc.strerror or exc}.") from exc
    with container:
        return _probe_open(container, decode_budget_s)


def _probe_open(container: Any, decode_budget_s: float) -> VideoInfo:
    fmt = container.format.name
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        raise MediaError("This is a still image, not a video.")
    if not container.streams.video:
        raise MediaError("The file contains no video stream (audio or data only).")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        tag = _fourcc(container, stream)
        raise MediaError(f"The video codec{tag} is not supported: no decoder for it is available.")
    codec = stream.codec_context.name
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    declared = int(stream.frames or 0)

    packets, first_pts, last_pts = _scan_packets(container, stream)
    if packets == 0:
        raise MediaError("The video has no frames (zero length).")
    if declared and packets < declared * (1 - _TRUNCATION_TOLERANCE):
        have = _seconds(packets, fps)
        want = _seconds(declared, fps)
        raise MediaError(
            f"The file is truncated: its header announces {declared} frames{want} but only {packets}{have} "
            "are present. Upload the complete file."
        )
    duration = _duration(stream, first_pts, last_pts, packets, fps)
    if duration <= 0 and packets <= 1:
        raise MediaError("The video has a single frame and no duration (zero length).")

    decoded = _check_decode(container, stream, decode_budget_s)
    width, height = stream.codec_context.width, stream.codec_context.height
    pix_fmt = stream.codec_context.pix_fmt or ""
    if not width or not height or decoded == 0:
        raise MediaError("No frame of the video could be decoded: the file is corrupt.")
    playable = codec in _PLAYABLE.get(fmt, set()) and pix_fmt in _PLAYABLE_PIX_FMTS
    return VideoInfo(
        container=fmt,
        codec=codec,
        width=width,
        height=height,
        fps=round(fps, 3),
        duration_s=round(duration, 3),
        frames=packets,
        pix_fmt=pix_fmt,
        browser_playable=playable,
        creation_time=_creation_time(container, stream),
    )


# Before this, a creation_time is an unset field read as a date (QuickTime counts from 1904, others 1970).
_EARLIEST_CREATION = datetime(1971, 1, 1, tzinfo=UTC)


def _creation_time(container: Any, stream: Any) -> datetime | None:
    """The creation_time tag of the container (else of the video stream) as an aware UTC datetime.

    FFmpeg's demuxers give it as ISO 8601 in UTC ("2024-05-01T08:00:00.000000Z"); a value without an offset
    is UTC too. Unset (epoch) dates, dates in the future and unreadable text count as no tag.
    """
    for metadata in (container.metadata, stream.metadata):
        raw = str(metadata.get("creation_time") or "").strip()
        if not raw:
            continue
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            continue
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if _EARLIEST_CREATION <= value <= datetime.now(UTC) + timedelta(days=1):
            return value
    return None


def _fourcc(container: Any, stream: Any) -> str:
    # The stream has no codec context, so the tag must come from the raw codec parameters when shown.
    with contextlib.suppress(Exception):
        tag = stream.codec_tag
        if tag and tag.isprintable():
            return f" ({tag})"
    return ""


def _seconds(frames: int, fps: float) -> str:
    return f" ({frames / fps:.1f} s)" if fps else ""


def _scan_packets(container: Any, stream: Any) -> tuple[int, int | None, int | None]:
    count, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet demux() yields at the end
            count += 1
            if packet.pts is not None:
                first = packet.pts if first is None else min(first, packet.pts)
                last = packet.pts if last is None else max(last, packet.pts)
    except av.error.FFmpegError as exc:
        raise MediaError(
            f"The file is damaged after {count} frames and cannot be read further ({exc.strerror or exc})."
        ) from exc
    return count, first, last


def _duration(stream: Any, first: int | None, last: int | None, packets: int, fps: float) -> float:
    if first is not None and last is not None and stream.time_base:
        frame = 1.0 / fps if fps else 0.0
        return float((last - first) * stream.time_base) + frame
    return packets / fps if fps else 0.0


def _check_decode(container: Any, stream: Any, budget_s: float) -> int:
    """Decode from the start within the time budget, then a few frames at spread-out points."""
    container.seek(0, stream=stream)
    decoded = 0
    deadline = time.monotonic() + budget_s
    finished = True
    try:
        for _frame in container.decode(stream):
            decoded += 1
            if time.monotonic() > deadline:
                finished = False
                break
    except (av.error.FFmpegError, PermissionError) as exc:
        # PyAV raises PermissionError (EPERM) from avcodec_send_packet on some damaged bitstreams.
        raise MediaError(f"The file is corrupt: decoding failed after {decoded} frames.") from exc
    if finished or stream.duration is None:
        return decoded
    for fraction in (0.25, 0.5, 0.75, 0.95):
        target = int(stream.duration * fraction) + (stream.start_time or 0)
        try:
            container.seek(target, stream=stream)
            for i, _frame in enumerate(container.decode(stream)):
                decoded += 1
                if i >= 4:
                    break
        except (av.error.FFmpegError, PermissionError) as exc:
            raise MediaError(
                f"The file is corrupt: decoding failed near {int(fraction * 100)}% of its length."
            ) from exc
    return decoded


# --- rendition ------------------------------------------------------------------------------------------


def make_rendition(
    source: Path,
    target: Path,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Transcode ``source`` to H.264 yuv420p MP4 with the index up front (+faststart).

    Frames keep their source timestamps (encoder time base = input's), so a time in the original is the
    same time in the rendition. Audio is not carried: CCTV exports rarely have any and the product does not
    use it. Raises ``Cancelled`` when ``should_stop`` says so; the target is only created when complete.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with av.open(str(source)) as inp:
            in_stream = inp.streams.video[0]
            in_stream.thread_type = "AUTO"
            total = int(in_stream.frames or 0)
            # libx264 with yuv420p needs even dimensions.
            width = in_stream.codec_context.width // 2 * 2
            height = in_stream.codec_context.height // 2 * 2
            rate = in_stream.average_rate or in_stream.guessed_rate or Fraction(25)
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                out_stream = out.add_stream("libx264", rate=rate)
                out_stream.width, out_stream.height = width, height
                out_stream.pix_fmt = "yuv420p"
                time_base = in_stream.time_base or Fraction(1, 90000)
                out_stream.time_base = time_base
                out_stream.codec_context.time_base = time_base
                out_stream.options = {"crf": str(crf), "preset": preset}
                done = 0
                last_pts = -1
                for frame in _frames(inp, in_stream):
                    if should_stop is not None and done % 25 == 0 and should_stop():
                        raise Cancelled()
                    pts = frame.pts
                    if pts is None or pts <= last_pts:
                        pts = last_pts + 1  # some AVI files carry no or repeated pts; keep them monotonic
                    last_pts = pts
                    out_frame = frame.reformat(width=width, height=height, format="yuv420p")
                    out_frame.pts = pts
                    out_frame.time_base = time_base
                    for packet in out_stream.encode(out_frame):
                        out.mux(packet)
                    done += 1
                    if progress is not None and done % 25 == 0:
                        progress(done, total)
                for packet in out_stream.encode(None):
                    out.mux(packet)
        if progress is not None:
            progress(done, max(total, done))
        fsync_path(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class Cancelled(Exception):
    """Raised inside long operations when the caller asked them to stop."""


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except (av.error.FFmpegError, PermissionError) as exc:
        raise MediaError(f"The video is corrupt and could not be decoded to the end ({exc}).") from exc


def make_poster(source: Path, target: Path, *, at_s: float = 1.0, max_width: int = 640) -> None:
    """Save a JPEG of the first frame at or after ``at_s`` (or the last frame of a shorter video)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with av.open(str(source)) as inp:
            stream = inp.streams.video[0]
            chosen = None
            for frame in inp.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= at_s:
                    break
            if chosen is None:
                raise MediaError("No frame of the video could be decoded for its poster.")
            image = chosen.to_image()  # type: ignore[no-untyped-call]
        if image.width > max_width:
            image = image.resize((max_width, round(image.height * max_width / image.width)))
        image.save(tmp, format="JPEG", quality=85)
        fsync_path(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def save_crops(source: Path, wanted: dict[int, list[tuple[tuple[float, float, float, float], Path]]]) -> int:
    """Save JPEG crops: ``wanted`` maps a decoded-frame index to (box x,y,w,h, target) pairs.

    Frame indices count every decoded frame from 0, as reid_core's frame reader does. Only the frames
    asked for are converted to images, so this pass costs little more than decoding.
    """
    if not wanted:
        return 0
    last = max(wanted)
    saved = 0
    with av.open(str(source)) as inp:
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(_frames(inp, stream)):
            if index in wanted:
                image = frame.to_image()
                for (x, y, w, h), target in wanted[index]:
                    left = min(max(round(x), 0), image.width - 1)
                    top = min(max(round(y), 0), image.height - 1)
                    right = min(max(round(x + w), left + 1), image.width)
                    bottom = min(max(round(y + h), top + 1), image.height)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    image.crop((left, top, right, bottom)).save(target, format="JPEG", quality=85)
                    saved += 1
            if index >= last:
                break
    return saved
