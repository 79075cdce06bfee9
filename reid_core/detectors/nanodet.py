"""NanoDet (GFL head) ONNX adapter: the default offline pack's person detector.

Contract (see the model manifest): one image input, preprocessed as the manifest declares (NanoDet-g 416:
BGR, (x - mean) / std, letterboxed at the top-left); per stride 8, 16, 32 two outputs over the stride's
cells in row-major order: sigmoid-ed class scores [1, cells, 80] and box distributions [1, cells, 4 * bins]
(left, top, right, bottom distances from the cell centre, each a softmax over bins, in units of stride).
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
PERSON = 0


def _softmax(x: npt.NDArray[np.float32], axis: int) -> npt.NDArray[np.float32]:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return np.asarray(e / e.sum(axis=axis, keepdims=True), dtype=np.float32)


class NanoDetDetector:
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
        if self.pre.layout != "NCHW":
            raise ValueError(f"{model.path}: the NanoDet adapter expects an NCHW input")
        self._session = session(model.path, threads)
        # Pair each stride's score and box outputs by cell count: the export's output order is arbitrary.
        outputs = [(o.name, o.shape) for o in self._session.get_outputs()]
        self._levels: list[tuple[int, int, str, str, npt.NDArray[np.float32]]] = []
        for stride in STRIDES:
            w, h = self.pre.width // stride, self.pre.height // stride
            cells = [(name, shape[2]) for name, shape in outputs if shape[1] == w * h]
            scores = [name for name, c in cells if c == 80]
            boxes = [(name, c) for name, c in cells if c != 80 and c % 4 == 0]
            if len(scores) != 1 or len(boxes) != 1:
                raise ValueError(f"{model.path}: no NanoDet score/box output pair for stride {stride}")
            ys, xs = np.divmod(np.arange(w * h), w)
            centres = (np.stack([xs, ys], axis=1).astype(np.float32) + 0.5) * stride
            self._levels.append((stride, boxes[0][1] // 4, scores[0], boxes[0][0], centres))

    def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
        # The converted model has a fixed batch of 1.
        return [self._detect_one(frame) for frame in frames]

    def _detect_one(self, frame: Image) -> list[Detection]:
        blob, sx, sy = frame_blob(frame, self.pre)
        names = [n for _, _, s, b, _ in self._levels for n in (s, b)]
        out = dict(zip(names, self._session.run(names, {self.pre.input_name: blob}), strict=True))
        boxes, scores = [], []
        for stride, bins, score_name, box_name, centres in self._levels:
            person = out[score_name][0, :, PERSON]
            idx = np.flatnonzero(person >= self.conf)
            if len(idx) == 0:
                continue
            # GFL: each side is a distribution over `bins` distances; its expectation is the distance.
            dist = _softmax(out[box_name][0, idx].reshape(-1, 4, bins), axis=2) @ np.arange(
                bins, dtype=np.float32
            )
            dist *= stride
            c = centres[idx]
            x0, y0 = c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1]
            x1, y1 = c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3]
            boxes.append(np.stack([x0 / sx, y0 / sy, (x1 - x0) / sx, (y1 - y0) / sy], axis=1))
            scores.append(person[idx])
        if not boxes:
            return []
        return filter_detections(
            np.concatenate(boxes).astype(np.float32),
            np.concatenate(scores).astype(np.float32),
            conf=self.conf,
            nms_iou=self.nms_iou,
            min_size=self.min_size,
            width=frame.shape[1],
            height=frame.shape[0],
        )
