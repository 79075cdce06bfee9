"""Footage test files: the real PETS clip and bad inputs made from it in a temporary folder."""

from __future__ import annotations

import random
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pets_clip(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "pets09_s2l1" / "vtest.avi"
    if not path.exists():
        pytest.fail(f"the PETS clip is missing at {path}: set SIGHTLINE_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def bad_files(pets_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file per way an upload can be unacceptable, each made from real bytes."""
    folder = tmp_path_factory.mktemp("bad-footage")
    data = pets_clip.read_bytes()
    files = {
        "empty": folder / "empty.avi",
        "text": folder / "notes.mp4",
        "image": folder / "photo.jpg",
        "truncated": folder / "truncated.avi",
        "corrupt": folder / "corrupt.avi",
        "unknown_codec": folder / "unknown_codec.avi",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("minutes of the meeting, not a video\n" * 20)
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 10, 10)).save(files["image"], format="JPEG")
    files["truncated"].write_bytes(data[: len(data) // 2])
    damaged = bytearray(data)
    rng = random.Random(1)
    for i in range(20_000, len(damaged) - 200_000, 997):
        damaged[i] = rng.randrange(256)
    files["corrupt"].write_bytes(bytes(damaged))
    # Replace the AVI's codec FourCC (stream header and bitmap header) with one no decoder knows.
    tagged = bytearray(data)
    fourcc = bytes(tagged[112:116])
    assert fourcc.lower() == b"div3" and bytes(tagged[188:192]).lower() == b"div3"
    tagged[112:116] = tagged[188:192] = b"ZQX9"
    files["unknown_codec"].write_bytes(bytes(tagged))
    return files


def cut_clip(source: Path, target: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as MPEG-4 AVI (keeps tests of a whole ingest short)."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        encoded = out.add_stream("mpeg4", rate=stream.average_rate)
        encoded.width, encoded.height, encoded.pix_fmt = stream.width, stream.height, "yuv420p"
        encoded.options = {"qscale": "3"}
        for i, frame in enumerate(inp.decode(stream)):
            if i >= frames:
                break
            for packet in encoded.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in encoded.encode(None):
            out.mux(packet)
    return target


@pytest.fixture(scope="session")
def short_clip(pets_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """15 s of the PETS clip (150 frames): a whole ingest takes seconds, not a minute."""
    return cut_clip(pets_clip, tmp_path_factory.mktemp("clips") / "pets-15s.avi", 150)
