"""The default pack's appearance embedder: ImageNet MobileNetV2 features fused with an HSV colour histogram.

It measures appearance similarity (clothing colour and texture), not trained person re-identification.
Measured on PETS tracklets (../shared/notes/models.md): colour alone mAP 0.67, MobileNetV2 alone 0.51,
the 0.4/0.6 fusion 0.68. Fusion is a sqrt-weighted concatenation of the two L2-normalised parts, so the
cosine of two fused vectors is exactly 0.4 * cosine(CNN) + 0.6 * cosine(colour).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from reid_core.embed import DYNAMIC_BATCH, l2_normalise, preprocess
from reid_core.models import ModelSpec, ResolvedModel
from reid_core.runtime import session
from reid_core.types import Image, Vectors

STRIPES = 4
BINS = (8, 4, 4)  # hue, saturation, value
COLOUR_DIM = STRIPES * BINS[0] * BINS[1] * BINS[2]
CNN_WEIGHT = 0.4
COLOUR_SIZE = (64, 128)  # width, height the crop is resized to before the histogram


def colour_descriptor(crops: Sequence[Image]) -> Vectors:
    """HSV histogram per horizontal stripe (head to feet), each L1-normalised then square-rooted (Hellinger).

    The dot product of two descriptors is the mean Bhattacharyya coefficient over stripes; rows are unit L2.
    """
    out = np.zeros((len(crops), COLOUR_DIM), dtype=np.float32)
    per = COLOUR_DIM // STRIPES
    for i, image in enumerate(crops):
        hsv = cv2.cvtColor(cv2.resize(image, COLOUR_SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2HSV)
        edges = np.linspace(0, COLOUR_SIZE[1], STRIPES + 1).astype(int)
        for s in range(STRIPES):
            stripe = np.ascontiguousarray(hsv[edges[s] : edges[s + 1]])
            hist = cv2.calcHist([stripe], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
            out[i, s * per : (s + 1) * per] = np.sqrt(hist / max(float(hist.sum()), 1.0))
    return l2_normalise(out)


class AppearanceEmbedder:
    """MobileNetV2 (from the manifest entry) + colour; ``model=None`` gives the colour descriptor alone."""

    def __init__(self, model: ResolvedModel | None, *, threads: int | None = None) -> None:
        self.spec: ModelSpec | None = model.spec if model is not None else None
        self.colour_only = model is None
        self.calls = 0  # crops embedded
        self._cnn_dim = 0
        if model is not None:
            self._session = session(model.path, threads)
            out_dim = self._session.get_outputs()[0].shape[-1]
            if not isinstance(out_dim, int):
                raise ValueError(f"{model.path}: the CNN feature size is not fixed")
            self._cnn_dim = out_dim
            if model.spec.dim is not None and model.spec.dim != out_dim + COLOUR_DIM:
                raise ValueError(
                    f"manifest entry '{model.spec.name}' declares dim {model.spec.dim}, but "
                    f"{model.path.name} gives {out_dim} + {COLOUR_DIM} colour = {out_dim + COLOUR_DIM}"
                )
            self._batch = DYNAMIC_BATCH if model.spec.batch == "dynamic" else 1
        self.dim = self._cnn_dim + COLOUR_DIM

    def embed(self, crops: Sequence[Image]) -> Vectors:
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.calls += len(crops)
        colour = colour_descriptor(crops)
        if self.spec is None:
            return colour
        cnn = l2_normalise(self._cnn(crops, self.spec))
        fused = np.concatenate([np.sqrt(CNN_WEIGHT) * cnn, np.sqrt(1 - CNN_WEIGHT) * colour], axis=1)
        return l2_normalise(fused)

    def _cnn(self, crops: Sequence[Image], spec: ModelSpec) -> npt.NDArray[np.float32]:
        name = spec.preprocess.input_name
        parts = []
        for i in range(0, len(crops), self._batch):
            blob = preprocess(crops[i : i + self._batch], spec.preprocess)
            parts.append(np.asarray(self._session.run(None, {name: blob})[0], dtype=np.float32))
        return np.concatenate(parts).reshape(len(crops), -1)
