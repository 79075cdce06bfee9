"""Small real media made on the fly (no files from the shared folder): a 2-second H.264 video and a JPEG."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path


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
