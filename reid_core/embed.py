"""Appearance embedding: the Embedder protocol and a generic ONNX ReID adapter driven by the manifest.

Every preprocessing choice (size, channel order, scale, mean/std, layout, stretch or letterbox) comes from
the model's manifest entry, so a plug-in model that follows the documented contract needs no code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from reid_core.detect import letterbox
from reid_core.models import Preprocess, ResolvedModel
from reid_core.runtime import runner
from reid_core.types import Box, Image, Vectors

DYNAMIC_BATCH = 16


class Embedder(Protocol):
    dim: int

    def embed(self, crops: Sequence[Image]) -> Vectors:
        """(n, dim) float32, each row L2-normalised; crops are BGR uint8."""
        ...


def l2_normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(norms, 1e-12), dtype=np.float32)


def crop(image: Image, box: Box) -> Image:
    """The box's pixels (clipped to the image, at least 1x1)."""
    h, w = image.shape[:2]
    x0 = min(max(round(box[0]), 0), w - 1)
    y0 = min(max(round(box[1]), 0), h - 1)
    x1 = min(max(round(box[0] + box[2]), x0 + 1), w)
    y1 = min(max(round(box[1] + box[3]), y0 + 1), h)
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def preprocess(crops: Sequence[Image], pp: Preprocess) -> npt.NDArray[np.float32]:
    """Crops to one input tensor as the manifest declares it."""
    out = []
    mean = np.array(pp.mean, dtype=np.float32)
    std = np.array(pp.std, dtype=np.float32)
    for image in crops:
        resized: Image = (
            letterbox(image, pp.width, pp.height, pp.pad_value).image
            if pp.letterbox
            else np.asarray(cv2.resize(image, (pp.width, pp.height), interpolation=cv2.INTER_LINEAR))
        )
        pixels = resized[:, :, ::-1] if pp.channel_order == "RGB" else resized
        x = (pixels.astype(np.float32) * pp.scale - mean) / std
        out.append(x.transpose(2, 0, 1) if pp.layout == "NCHW" else x)
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


class ReidEmbedder:
    """Any ReID model (ONNX, or OpenVINO IR) with one image input and one (n, dim) feature output."""

    def __init__(self, model: ResolvedModel, *, flip: bool = False, threads: int | None = None) -> None:
        self.spec = model.spec
        self.flip = flip
        dynamic = self.spec.batch == "dynamic"
        self._run_blob = runner(
            model.path, self.spec.runtime, self.spec.preprocess.input_name, threads, dynamic_batch=dynamic
        )
        assert self.spec.dim is not None  # the manifest requires dim for embedders
        self.dim = self.spec.dim
        self.batch = DYNAMIC_BATCH if dynamic else 1
        self.calls = 0  # crops passed through the network (flip counts twice)

    def embed(self, crops: Sequence[Image]) -> Vectors:
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        feats = self._run(crops)
        if self.flip:
            # Averaging with the mirror image is a standard ReID test-time augmentation.
            feats = l2_normalise(feats) + l2_normalise(self._run([c[:, ::-1] for c in crops]))
        return l2_normalise(feats)

    def _run(self, crops: Sequence[Image]) -> Vectors:
        parts = []
        for i in range(0, len(crops), self.batch):
            blob = preprocess(crops[i : i + self.batch], self.spec.preprocess)
            parts.append(self._run_blob(blob))
        self.calls += len(crops)
        return np.concatenate(parts).reshape(len(crops), -1)
