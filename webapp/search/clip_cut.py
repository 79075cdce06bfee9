"""Evidence clips cut with PyAV from the ORIGINAL video (never the rendition), with their own sha256.
Run by the export job (clips.clip_work)."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.conf import settings

from webapp.footage.models import Video, video_dir


class ExportError(Exception):
    """A clip that cannot be made or served; the message is shown to the user."""


@dataclass(frozen=True)
class Clip:
    path: Path
    sha256: str
    size_bytes: int
    start_s: float
    end_s: float
    frames: int


def clip_path(video: Video, start_s: float, end_s: float) -> Path:
    """One file per moment of a video: the same moment asked for from any query is the same clip. Inside
    the video's own folder, so deleting the video (by hand or by retention) deletes its clips too."""
    name = f"clip-{round(start_s * 1000)}-{round(end_s * 1000)}ms.mp4"
    return Path(settings.MEDIA_ROOT) / video_dir(video) / "exports" / name


def cut_clip(
    source: Path,
    target: Path,
    start_s: float,
    end_s: float,
    *,
    seek: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Clip:
    """Frames of the original between start_s and end_s, encoded as H.264 MP4 (playable anywhere).

    The original's own timestamps are kept (encoder time base = input's), so a time in the clip's
    metadata maps back to the original. Decoding starts at the keyframe at or before start_s, so a moment
    at hour 9 costs what one at minute 1 does; seek=False decodes from the first frame (the reference the
    tests and bench/clip_bench.py compare against). progress(done, total) gets the frames written so far
    and an estimate of all; an exception it raises (a cancelled job) stops the cut and leaves no file.
    Written to a temporary name, fsynced, then renamed.
    """
    import av.error

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        try:
            frames = _encode_moment(source, tmp, start_s, end_s, seek=seek, progress=progress)
        except _Untimed:
            # A frame without a timestamp is placed by its index from the first frame, which is unknown
            # after a seek: decode from the start, as the timestamps must be the same either way.
            frames = _encode_moment(source, tmp, start_s, end_s, seek=False, progress=progress)
        except av.error.FFmpegError as exc:
            raise ExportError(
                f"The original could not be decoded for this moment ({exc.strerror or exc}); "
                "the clip was not made."
            ) from exc
        if frames == 0:
            raise ExportError("No frame of the original falls in this moment; the clip was not made.")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Clip(target, sha256_file(target), target.stat().st_size, start_s, end_s, frames)


class _Untimed(Exception):
    """A frame without a timestamp was decoded after a seek."""


# How far before the moment to seek again when the first frame decoded after a seek is not a keyframe at or
# before it (some demuxers index keyframes by decode time, and B-frames put a keyframe's display time later),
# then decode from the first frame.
_SEEK_MARGINS_S = (0.0, 2.0, 10.0, 60.0)
_EPSILON_S = 1e-6


def _encode_moment(
    source: Path,
    tmp: Path,
    start_s: float,
    end_s: float,
    *,
    seek: bool,
    progress: Callable[[int, int], None] | None,
) -> int:
    import av

    frames = 0
    with av.open(str(source)) as inp:
        stream = inp.streams.video[0]
        base = stream.time_base or Fraction(1, 1000)
        # Moment times count from the stream's start, as reid_core measures them (MPEG-TS starts at 1.4 s).
        origin = stream.start_time or 0
        width, height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    expected = max(1, round((end_s - start_s) * float(rate)) + 1)
    decoded = _decoded_from(source, start_s if seek else None)
    with (
        contextlib.closing(decoded),
        av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.time_base = enc.codec_context.time_base = base
        enc.options = {"crf": "18", "preset": "veryfast"}
        last_pts = -1
        for index, frame in decoded:
            if frame.pts is not None:
                t = float((frame.pts - origin) * base)
            elif index is None:
                raise _Untimed
            else:
                t = index / float(rate)
            if t < start_s - _EPSILON_S:
                continue
            if t > end_s + _EPSILON_S:
                break
            pts = frame.pts if frame.pts is not None and frame.pts > last_pts else last_pts + 1
            last_pts = pts
            picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.pts, picture.time_base = pts, base
            for packet in enc.encode(picture):
                out.mux(packet)
            frames += 1
            if progress is not None and frames % 5 == 0:
                progress(frames, max(expected, frames + 1))
        for packet in enc.encode(None):
            out.mux(packet)
    if progress is not None:
        progress(frames, frames)
    return frames


def _decoded_from(source: Path, start_s: float | None) -> Generator[tuple[int | None, Any], None, None]:
    """(index, frame) of the original from the keyframe at or before start_s (index None: unknown after a
    seek), or from the first frame with start_s None or when no seek lands before the moment."""
    import av
    import av.error

    if start_s is not None and start_s > 0:
        with av.open(str(source)) as inp:
            stream = inp.streams.video[0]
            stream.thread_type = "AUTO"
            base = stream.time_base or Fraction(1, 1000)
            origin = stream.start_time or 0
            for margin in _SEEK_MARGINS_S:
                offset = origin + math.floor((start_s - margin) / base)
                if offset <= origin:
                    break
                try:
                    inp.seek(offset, stream=stream, backward=True, any_frame=False)
                except av.error.FFmpegError:
                    break  # a file the demuxer cannot seek in: from the first frame
                frames = inp.decode(stream)
                first = next(frames, None)
                # A keyframe at or before the start: every frame of the moment follows it in display order
                # and decodes as it does from the first frame.
                if (
                    first is not None
                    and first.key_frame
                    and first.pts is not None
                    and float((first.pts - origin) * base) <= start_s + _EPSILON_S
                ):
                    yield None, first
                    for frame in frames:
                        yield None, frame
                    return
    with av.open(str(source)) as inp:
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(inp.decode(stream)):
            yield index, frame


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evidence_clip(
    video: Video, start_s: float, end_s: float, *, progress: Callable[[int, int], None] | None = None
) -> Clip:
    if not video.original:
        raise ExportError("The original video is missing from the media store; the clip cannot be made.")
    source = Path(video.original.path)
    if not source.is_file():
        raise ExportError("The original video is missing from the media store; the clip cannot be made.")
    return cut_clip(source, clip_path(video, start_s, end_s), start_s, end_s, progress=progress)


def clip_record(clip: Clip) -> dict[str, Any]:
    """What an export job keeps of the clip it made (JSON); stored_clip() reads it back."""
    return {
        "path": str(clip.path.relative_to(Path(settings.MEDIA_ROOT))),
        "sha256": clip.sha256,
        "size_bytes": clip.size_bytes,
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "frames": clip.frames,
    }


def stored_clip(record: dict[str, Any] | None) -> Clip:
    """A clip made earlier, checked: its file must still be there with the sha256 it was made with."""
    if not record:
        raise ExportError("This clip has not been made yet.")
    path = Path(settings.MEDIA_ROOT) / str(record["path"])
    if not path.is_file():
        raise ExportError("The clip's file is no longer in the media store: request the clip again.")
    if sha256_file(path) != record["sha256"]:
        raise ExportError("The clip's file changed since it was made (its sha256 differs): request it again.")
    return Clip(
        path,
        str(record["sha256"]),
        int(record["size_bytes"]),
        float(record["start_s"]),
        float(record["end_s"]),
        int(record["frames"]),
    )
