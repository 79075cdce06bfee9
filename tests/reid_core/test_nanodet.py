"""The default pack's NanoDet detector on real PETS09-S2L1 frames against the MOT ground truth."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_core.detectors.nanodet import NanoDetDetector
from reid_core.models import resolve
from reid_core.types import ReidError

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
PETS = SHARED / "data" / "pets09_s2l1"
FRAMES = (0, 200, 450)


@pytest.fixture(scope="module")
def detector() -> NanoDetDetector:
    return NanoDetDetector(resolve("nanodet_g_416", dirs=[]), conf=0.4, threads=2)


def _frames() -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(PETS / "vtest.avi"))
    out, index = {}, 0
    while index <= max(FRAMES):
        ok, frame = cap.read()
        assert ok, f"cannot decode frame {index} of {PETS / 'vtest.avi'}"
        if index in FRAMES:
            out[index] = frame
        index += 1
    return out


def _gt() -> dict[int, np.ndarray]:
    rows: dict[int, list[list[float]]] = {}
    for line in (PETS / "gt.txt").read_text().splitlines():
        f = line.split(",")
        rows.setdefault(int(f[0]) - 1, []).append([float(v) for v in f[2:6]])
    return {k: np.array(v) for k, v in rows.items()}


def _iou(a: tuple[float, float, float, float], b: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]), np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return np.asarray(inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter))


def test_finds_the_labelled_people(detector: NanoDetDetector) -> None:
    frames, gt = _frames(), _gt()
    found = detector.detect([frames[i] for i in FRAMES])
    hits = total = true_pos = n_det = upright = 0
    for i, dets in zip(FRAMES, found, strict=True):
        boxes = gt[i]
        total += len(boxes)
        n_det += len(dets)
        matched = {int(np.argmax(_iou(d.box, boxes))) for d in dets if _iou(d.box, boxes).max() >= 0.5}
        hits += len(matched)
        true_pos += sum(_iou(d.box, boxes).max() >= 0.5 for d in dets)
        for d in dets:
            x, y, w, h = d.box
            assert x >= 0 and y >= 0 and x + w <= 768 and y + h <= 576 and 0.4 <= d.score <= 1
            upright += h > w
    assert hits / total >= 0.85, (hits, total)
    assert true_pos / n_det >= 0.8, (true_pos, n_det)
    assert upright / n_det >= 0.9, "people in PETS stand upright: boxes are taller than wide"


def test_empty_scene_has_no_person(detector: NanoDetDetector) -> None:
    assert detector.detect([np.full((576, 768, 3), 127, np.uint8)]) == [[]]
    assert detector.detect([]) == []


def test_wrong_model_file_is_a_clear_error() -> None:
    yolox = resolve("yolox_nano", dirs=[SHARED / "models"])
    nanodet = resolve("nanodet_g_416", dirs=[])
    with pytest.raises(ValueError, match="no NanoDet score/box output pair"):
        NanoDetDetector(type(nanodet)(spec=nanodet.spec, path=yolox.path, source="models_dir"))
    broken = REPO / "pyproject.toml"
    with pytest.raises(ReidError, match="cannot load ONNX model"):
        NanoDetDetector(type(nanodet)(spec=nanodet.spec, path=broken, source="models_dir"))


def test_finds_the_person_in_tight_query_crops() -> None:
    """Query photos are often tight crops: the letterboxed input keeps the person's shape (stretching a
    30x80 crop to 416x416 found a person in 3 of these 13 crops, letterboxing in 11)."""
    detector = NanoDetDetector(resolve("nanodet_g_416", dirs=[]), threads=2)  # default conf 0.3
    frames, gt = _frames(), _gt()
    found = []
    for i in FRAMES:
        for x, y, w, h in gt[i].astype(int):
            found.append(len(detector.detect([frames[i][max(y, 0) : y + h, max(x, 0) : x + w]])[0]) > 0)
    assert sum(found) / len(found) >= 0.75, found
