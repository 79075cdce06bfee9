"""The default pack's appearance embedder on real PETS09-S2L1 person crops."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_core.embed import l2_normalise
from reid_core.embedders.appearance import COLOUR_DIM, AppearanceEmbedder, colour_descriptor
from reid_core.models import resolve
from reid_core.types import Image

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
PETS = SHARED / "data" / "pets09_s2l1"


@pytest.fixture(scope="module")
def crops() -> tuple[list[Image], list[int]]:
    """Two ground-truth crops per id, 40 frames apart, for the ids visible at both frames 100 and 140."""
    rows: dict[int, dict[int, list[float]]] = {}
    for line in (PETS / "gt.txt").read_text().splitlines():
        f = line.split(",")
        rows.setdefault(int(f[0]) - 1, {})[int(f[1])] = [float(v) for v in f[2:6]]
    a, b = 100, 140
    ids = sorted(set(rows[a]) & set(rows[b]))
    cap = cv2.VideoCapture(str(PETS / "vtest.avi"))
    frames: dict[int, Image] = {}
    for index in range(b + 1):
        ok, frame = cap.read()
        assert ok
        if index in (a, b):
            frames[index] = frame
    images, labels = [], []
    for t in (a, b):
        for pid in ids:
            x, y, w, h = (round(v) for v in rows[t][pid])
            images.append(frames[t][max(y, 0) : y + h, max(x, 0) : x + w])
            labels.append(pid)
    return images, labels


def _rank1(vectors: np.ndarray, labels: list[int]) -> float:
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, -np.inf)
    return float(np.mean([labels[int(np.argmax(row))] == labels[i] for i, row in enumerate(sim)]))


def test_fused_vectors_find_the_same_person(crops: tuple[list[Image], list[int]]) -> None:
    images, labels = crops
    assert len(set(labels)) >= 5
    embedder = AppearanceEmbedder(resolve("mobilenetv2_colour", dirs=[]), threads=2)
    vectors = embedder.embed(images)
    assert vectors.shape == (len(images), embedder.dim) == (len(images), 1280 + COLOUR_DIM)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert embedder.calls == len(images)
    assert _rank1(vectors, labels) >= 0.7
    same = np.array(labels)[:, None] == np.array(labels)[None, :]
    sim = vectors @ vectors.T
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert sim[same & off_diagonal].mean() > sim[~same].mean() + 0.05
    # Fusion is exact: fused cosine = 0.4 * CNN cosine + 0.6 * colour cosine.
    assert embedder.spec is not None
    cnn = l2_normalise(embedder._cnn(images, embedder.spec))
    colour = colour_descriptor(images)
    assert np.allclose(sim, 0.4 * cnn @ cnn.T + 0.6 * colour @ colour.T, atol=1e-5)


def test_colour_only_fallback(crops: tuple[list[Image], list[int]]) -> None:
    images, labels = crops
    embedder = AppearanceEmbedder(None)
    assert embedder.colour_only and embedder.dim == COLOUR_DIM
    vectors = embedder.embed(images)
    assert vectors.shape == (len(images), COLOUR_DIM)
    assert _rank1(vectors, labels) >= 0.6
    assert embedder.embed([]).shape == (0, COLOUR_DIM)


def test_degenerate_crops_give_unit_vectors() -> None:
    embedder = AppearanceEmbedder(resolve("mobilenetv2_colour", dirs=[]), threads=2)
    tiny = [np.zeros((1, 1, 3), np.uint8), np.full((200, 3, 3), 255, np.uint8)]
    vectors = embedder.embed(tiny)
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_manifest_dim_must_match_the_model() -> None:
    model = resolve("mobilenetv2_colour", dirs=[])
    wrong = dataclasses.replace(model, spec=dataclasses.replace(model.spec, dim=1280))
    with pytest.raises(ValueError, match="declares dim 1280"):
        AppearanceEmbedder(wrong)
