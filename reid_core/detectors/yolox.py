"""YOLOX ONNX adapter for models exported with a RAW grid output (decode_in_inference=False).

Contract: the input as the model's manifest entry declares it (the YOLOX exports: float32 [1, 3, S, S], BGR
0..255 without mean/std, letterboxed at the top-left with pad 114); output [1, N, 85] holding per anchor
point raw cx, cy, log w, log h over strides 8/16/32, then sigmoid-ed objectness and 80 class scores.
Person score = objectness x class 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from reid_core.detect import Detection, filter_detections, frame_blob
from reid_core.models import ResolvedModel
from reid_core.runtime import session
from reid_core.types import Image

STRIDES = (8, 16, 32)


def _grids(size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    cells, strides = [], []
    for stride in STRIDES:
        n = size // stride
        xv, yv = np.meshgrid(np.arange(n), np.arange(n))
        cells.append(np.stack((xv, yv), axis=2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


class YoloxDetector:
    def __init__(
        self,
        model: ResolvedModel,
        *,
        conf: float = 0.3,
        nms_iou: float = 0.45,
        min_size: float = 8.0,
        threads: int | None = None,
    ) -> None:
        self.conf, self.nms_iou, self.min_size = conf, nms_iou, min_size
        self.pre = model.spec.preprocess
        self._session = session(model.path, threads)
        shape = self._session.get_inputs()[0].shape
        self._grid, self._stride = _grids(self.pre.width)
        if (
            self.pre.layout != "NCHW"
            or self.pre.width != self.pre.height
            or list(shape[2:]) != [self.pre.height, self.pre.width]
            or len(self._grid) != int(self._session.get_outputs()[0].shape[1])
        ):
            raise ValueError(
                f"{model.path}: not a square NCHW YOLOX raw-grid model of the size its manifest declares"
            )

    def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
        # The shipped export has a fixed batch of 1, so frames go through one at a time.
        return [self._detect_one(frame) for frame in frames]

    def _detect_one(self, frame: Image) -> list[Detection]:
        blob, sx, sy = frame_blob(frame, self.pre)
        raw = self._session.run(None, {self.pre.input_name: blob})[0][0]
        scores = raw[:, 4] * raw[:, 5]
        idx = np.flatnonzero(scores >= self.conf)
        # Decode only the candidates: a few dozen of 3549 points.
        cand, grid, stride = raw[idx], self._grid[idx], self._stride[idx]
        centre = (cand[:, :2] + grid) * stride
        size = np.exp(cand[:, 2:4]) * stride
        boxes = np.concatenate([centre - size / 2, size], axis=1) / np.array([sx, sy, sx, sy], np.float32)
        return filter_detections(
            boxes.astype(np.float32),
            scores[idx].astype(np.float32),
            conf=self.conf,
            nms_iou=self.nms_iou,
            min_size=self.min_size,
            width=frame.shape[1],
            height=frame.shape[0],
        )
