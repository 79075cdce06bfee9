"""Small real media made on the fly (no files from the shared folder): a 2-second H.264 video, a JPEG, and
the rows a finished ingest and search leave."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def tiny_video_bytes() -> bytes:
    """20 frames of 160x120 H.264 at 10 fps in MP4, made once per process with PyAV (about 0.1 s)."""
    import av
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for i in range(20):
                frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 10, np.uint8), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        return path.read_bytes()


def jpeg(width: int = 64, height: int = 128) -> bytes:
    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def ready_video(case: Any, name: str = "cam.mp4") -> Any:
    """In the database and media root: a ready 2-second video with its original, rendition and poster."""
    from django.core.files.base import ContentFile

    from webapp.footage.models import Video, VideoStatus

    video = Video.objects.create(
        case=case,
        original_name=name,
        status=VideoStatus.READY,
        fps=10,
        width=160,
        height=120,
        duration_s=2.0,
        frame_count=20,
    )
    video.original.save("original.mp4", ContentFile(tiny_video_bytes()), save=False)
    video.rendition.save("rendition.mp4", ContentFile(tiny_video_bytes()), save=False)
    video.poster.save("poster.jpg", ContentFile(jpeg()), save=False)
    video.save()
    return video


def results_fixture(case: Any) -> tuple[Any, Any]:
    """In the database and media root: a ready video with one track and a query with one hit, as the
    worker would have left them."""
    from django.core.files.base import ContentFile

    from webapp.search.models import Hit, Query

    track = sample_track(ready_video(case))
    query = Query(case=case, created_by=case.owner, photo_sha256="cd" * 32, params={"box": None})
    query.photo.save("p.jpg", ContentFile(jpeg()), save=False)
    query.save()
    hit = Hit.objects.create(query=query, track=track, score=0.8, rank=1, start_s=0.2, end_s=1.5)
    return query, hit


def sample_track(video: Any) -> Any:
    """One short track of a person, as ingestion stores it."""
    from webapp.footage.models import Track

    return Track.objects.create(
        video=video,
        track_id=1,
        start_s=0.2,
        end_s=1.5,
        start_frame=2,
        end_frame=15,
        best_frame=5,
        best_t=0.5,
        best_box=[10, 10, 30, 80],
        boxes=[[5, 0.5, 10, 10, 30, 80]],
    )
