"""Footage in: stream timestamps (also variable frame rate), analysis rate, galleries, clear errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reid_core.types import EmptyFootageError, FootageError
from reid_core.video import FrameSampler, iter_frames, probe


def test_pets_timestamps_come_from_pts(pets_video: Path) -> None:
    info = probe(pets_video)
    assert (info.width, info.height, info.is_gallery) == (768, 576, False)
    times: list[float] = []
    frames = [(f.index, f.t) for f in iter_frames(pets_video, 5.0, times)]
    assert len(times) == 795  # every decoded frame's time is reported ...
    assert len(frames) == 398  # ... but only every other frame is analysed at 5 of 10 fps
    assert frames[:3] == [(0, 0.0), (2, 0.2), (4, 0.4)]
    assert times[794] == pytest.approx(79.4)


def _write_vfr(path: Path, pts_ms: list[int]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, pts in enumerate(pts_ms):
            img = np.full((48, 64, 3), i * 20 % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_variable_frame_rate_keeps_each_frames_own_time(tmp_path: Path) -> None:
    pts_ms = [0, 40, 80, 500, 520, 1500, 1540]  # gaps no constant rate explains
    path = tmp_path / "vfr.mkv"
    _write_vfr(path, pts_ms)
    got = [round(f.t, 3) for f in iter_frames(path)]
    assert got == [p / 1000 for p in pts_ms]


def test_sampler_holds_the_rate_on_average() -> None:
    sampler = FrameSampler(3.0)
    taken = [i for i in range(300) if sampler.take(i / 30)]  # 10 s of 30 fps
    assert len(taken) == 30
    assert FrameSampler(None).take(0.0) and FrameSampler(None).take(0.0)


def test_still_images_folder_is_a_gallery(shared_root: Path) -> None:
    folder = shared_root / "data" / "mot17_mini" / "MOT17-02-FRCNN" / "img1"
    info = probe(folder)
    assert info.is_gallery and info.files == ("000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg")
    frames = list(iter_frames(folder))
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames[0].image.shape == (1080, 1920, 3)


def test_corrupt_video_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(FootageError, match=r"broken\.mp4"):
        list(iter_frames(bad))


def test_truncated_video_is_an_error_or_fewer_frames_never_a_crash(pets_video: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes(pets_video.read_bytes()[:200_000])
    try:
        n = sum(1 for _ in iter_frames(cut))
    except FootageError as exc:
        assert "cut.avi" in str(exc)
    else:
        assert 0 < n < 795


def test_empty_folder_and_unreadable_image(tmp_path: Path) -> None:
    with pytest.raises(EmptyFootageError, match="no images"):
        probe(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FootageError, match=r"photo\.jpg"):
        list(iter_frames(tmp_path))
    with pytest.raises(FootageError, match=r"missing\.avi"):
        probe(tmp_path / "missing.avi")
