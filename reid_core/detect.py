"""Person detection: the Detector protocol and the geometry every ONNX adapter shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from reid_core.models.registry import Preprocess
from reid_core.types import Box, Image


@dataclass(frozen=True)
class Detection:
    box: Box  # x, y, w, h in source pixels
    score: float


class Detector(Protocol):
    def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
        """One list of person detections per input frame (BGR uint8 H x W x 3)."""
        ...


@dataclass(frozen=True)
class Letterboxed:
    image: Image  # height x width x 3, source at top-left, rest filled with pad_value
    scale: float  # model pixels per source pixel


def letterbox(image: Image, width: int, height: int, pad_value: float = 114.0) -> Letterboxed:
    """Resize keeping aspect ratio, image at the top-left, one scale factor (the YOLOX/NanoDet convention)."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.full((height, width, 3), pad_value, dtype=np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return Letterboxed(image=out, scale=scale)


def frame_blob(frame: Image, pre: Preprocess) -> tuple[npt.NDArray[np.float32], float, float]:
    """One frame as the detector's NCHW input tensor, as its manifest entry declares it, with the x and y
    scale (model pixels per source pixel) that map boxes back."""
    if pre.letterbox:
        lb = letterbox(frame, pre.width, pre.height, pre.pad_value)
        image, sx, sy = lb.image, lb.scale, lb.scale
    else:
        image = np.asarray(cv2.resize(frame, (pre.width, pre.height)), dtype=np.uint8)
        sx, sy = pre.width / frame.shape[1], pre.height / frame.shape[0]
    pixels = image[:, :, ::-1] if pre.channel_order == "RGB" else image
    # Channels first while still bytes, one conversion to float, then in-place arithmetic only where the
    # model asks for it (YOLOX takes raw 0..255): this runs on every analysed frame.
    x = np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)
    mean = np.array(pre.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(pre.std, dtype=np.float32).reshape(1, 3, 1, 1)
    if pre.scale != 1.0 or np.any(std != 1.0):
        x *= np.float32(pre.scale) / std
    if np.any(mean != 0.0):
        x -= mean / std
    return x, sx, sy


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression; boxes are (n, 4) x, y, w, h."""
    if len(boxes) == 0:
        return []
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, iou)
    return [int(i) for i in np.asarray(keep).reshape(-1)]


def clip_box(box: Box, width: int, height: int) -> Box:
    x0 = min(max(box[0], 0.0), float(width))
    y0 = min(max(box[1], 0.0), float(height))
    x1 = min(max(box[0] + box[2], 0.0), float(width))
    y1 = min(max(box[1] + box[3], 0.0), float(height))
    return (x0, y0, x1 - x0, y1 - y0)


def filter_detections(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    *,
    conf: float,
    nms_iou: float,
    min_size: float,
    width: int,
    height: int,
) -> list[Detection]:
    """Shared tail of every adapter: threshold, clip to the frame, drop tiny boxes, NMS."""
    mask = scores >= conf
    boxes, scores = boxes[mask], scores[mask]
    if len(boxes) == 0:
        return []
    x0 = np.clip(boxes[:, 0], 0, width)
    y0 = np.clip(boxes[:, 1], 0, height)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.float32)
    big = (clipped[:, 2] >= min_size) & (clipped[:, 3] >= min_size)
    clipped, scores = clipped[big], scores[big]
    keep = nms(clipped, scores, nms_iou)
    return [
        Detection(box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])), score=float(s))
        for b, s in ((clipped[i], scores[i]) for i in keep)
    ]
