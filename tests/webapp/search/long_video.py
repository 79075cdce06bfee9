"""A long real video made from the PETS 2009 S2L1 clip with ffmpeg, for evidence clips cut far into a file.

The clip is encoded once as H.264 MP4 with a keyframe every `gop` frames and x264's B-frames (display order
differs from decode order, as in most camera exports), then that file is repeated `copies` times by stream
copy (ffmpeg's concat demuxer: timestamps run on, nothing is encoded again). Kept in the given folder, keyed
by the parameters and the PETS file, so a test session or a benchmark makes it once. hit_on() stores a
file as a case's video with one search hit on it, as an evidence clip is asked for from the page.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import search_pets

if TYPE_CHECKING:
    from webapp.search.models import Hit, Query


def long_pets(folder: Path, *, copies: int, height: int = 576, gop: int = 30) -> Path:
    """`copies` x 79.5 s of PETS footage at 10 fps, `height` pixels high, a keyframe every `gop` frames."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to make the long test video (apt-get install ffmpeg)")
    source = search_pets.pets_clip()
    stamp = f"{source.stat().st_size}-{source.stat().st_mtime_ns}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"pets-x{copies}-h{height}-g{gop}-{stamp}.mp4"
    if target.exists():
        return target
    one = folder / f"pets-x1-h{height}-g{gop}-{stamp}.mp4"
    if not one.exists():
        part = one.with_suffix(".part.mp4")
        encode = ["-vf", f"scale=-2:{height}", "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop)]
        encode += ["-pix_fmt", "yuv420p"]
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(source), *encode, str(part)], check=True)
        os.replace(part, one)
    if copies == 1:
        return one
    listing = folder / f"concat-{copies}.txt"
    listing.write_text("".join(f"file '{one.resolve()}'\n" for _ in range(copies)))
    part = target.with_suffix(".part.mp4")
    concat = ["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy"]
    subprocess.run([ffmpeg, "-v", "error", "-y", *concat, str(part)], check=True)
    os.replace(part, target)
    listing.unlink()
    return target


def hit_on(case: Any, source: Path, start_s: float, end_s: float) -> Hit:
    """A ready video holding `source` as its original, one track over [start_s, end_s] and a hit on it."""
    from django.conf import settings

    from webapp.footage.models import Track, Video, VideoStatus
    from webapp.search.models import Hit

    video = Video.objects.create(
        case=case,
        original_name=source.name,
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        size_bytes=source.stat().st_size,
        status=VideoStatus.READY,
        fps=10,
        width=384,
        height=288,
        duration_s=238.5,
        frame_count=2385,
    )
    relative = f"cases/{case.pk}/videos/{video.pk}/original{source.suffix}"
    (Path(settings.MEDIA_ROOT) / relative).parent.mkdir(parents=True)
    shutil.copyfile(source, Path(settings.MEDIA_ROOT) / relative)
    video.original.name = relative
    video.save(update_fields=["original"])
    track = Track.objects.create(
        video=video,
        track_id=7,
        start_s=start_s,
        end_s=end_s,
        start_frame=round(start_s * 10),
        end_frame=round(end_s * 10),
        best_frame=round(start_s * 10),
        best_t=start_s,
        best_box=[10, 10, 30, 80],
        boxes=[[round(start_s * 10), start_s, 10, 10, 30, 80]],
    )
    query = new_query(case)
    return Hit.objects.create(query=query, track=track, score=0.8, rank=1, start_s=start_s, end_s=end_s)


def new_query(case: Any) -> Query:
    from django.core.files.base import ContentFile
    from media_samples import jpeg

    from webapp.search.models import Query

    query = Query(case=case, created_by=case.owner, photo_sha256="ef" * 32, params={"box": None})
    query.photo.save("p.jpg", ContentFile(jpeg()), save=False)
    query.save()
    return query
