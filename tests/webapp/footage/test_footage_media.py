"""Probe, rendition and poster on the real PETS clip and on bad files made from it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest
from PIL import Image

from webapp.footage.media import Cancelled, MediaError, make_poster, make_rendition, probe


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_probe_describes_the_pets_clip(pets_clip: Path) -> None:
    info = probe(pets_clip)
    assert (info.container, info.codec, info.width, info.height) == ("avi", "msmpeg4", 768, 576)
    assert info.fps == pytest.approx(10.0)
    assert info.frames == 795
    assert info.duration_s == pytest.approx(79.5, abs=0.1)
    assert info.browser_playable is False  # MS-MPEG4 in AVI: needs a rendition


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("empty", r"empty \(0 bytes\)"),
        ("text", "not a video file"),
        ("image", "still image"),
        ("truncated", "truncated"),
        ("corrupt", "corrupt"),
        ("unknown_codec", "codec is not supported"),
    ],
)
def test_probe_rejects_bad_input_with_a_clear_message(
    bad_files: dict[str, Path], kind: str, words: str
) -> None:
    before = sha256(bad_files[kind])
    with pytest.raises(MediaError, match=words):
        probe(bad_files[kind])
    assert sha256(bad_files[kind]) == before  # probing never alters the file


def test_rendition_is_browser_playable_keeps_timestamps_and_leaves_the_original(
    pets_clip: Path, tmp_path: Path
) -> None:
    before = sha256(pets_clip)
    target = tmp_path / "rendition.mp4"
    seen: list[tuple[int, int]] = []
    make_rendition(pets_clip, target, progress=lambda done, total: seen.append((done, total)))
    assert sha256(pets_clip) == before
    assert seen[-1] == (795, 795)
    info = probe(target)
    assert (info.codec, info.pix_fmt, info.browser_playable) == ("h264", "yuv420p", True)
    assert info.frames == 795
    assert info.duration_s == pytest.approx(79.5, abs=0.1)
    # +faststart: the index (moov) comes before the media data (mdat).
    head = target.read_bytes()[: 64 * 1024]
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or head.find(b"mdat") == -1
    with av.open(str(pets_clip)) as src, av.open(str(target)) as out:
        src_times = [f.time for _, f in zip(range(30), src.decode(video=0), strict=False)]
        out_times = [f.time for _, f in zip(range(30), out.decode(video=0), strict=False)]
    assert out_times == pytest.approx(src_times)
    assert not [p for p in tmp_path.iterdir() if p.name != "rendition.mp4"]  # no temporary left


def test_cancelled_rendition_leaves_nothing(pets_clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "rendition.mp4"
    with pytest.raises(Cancelled):
        make_rendition(pets_clip, target, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_poster_is_a_jpeg_frame(pets_clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "poster.jpg"
    make_poster(pets_clip, target)
    with Image.open(target) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        # A real frame of a street scene, not a blank image.
        extrema = image.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 100
