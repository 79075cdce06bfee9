"""Multi-object tracking with ByteTrack from supervision, keeping each track's own detection boxes.

supervision's ByteTrack reports Kalman-filtered boxes; we keep the detector's boxes instead (they are
what the crops and the ground truth compare against). A track updated in a frame carries the exact score
of the detection that updated it, so that score (then IoU) maps each track back to its source box.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from reid_core.detect import Detection
from reid_core.types import Track, TrackFrame


@dataclass(frozen=True)
class TrackerSettings:
    # ByteTrack's published settings are high 0.5 / match 0.8 / buffer 30 frames at 30 fps (1 s).
    high_threshold: float = 0.5  # first association; new tracks need high + 0.1
    match_threshold: float = 0.8
    lost_buffer_s: float = 1.0
    min_track_frames: int = 3  # shorter tracks are mostly detector flicker


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (x, y, w, h) row of a with every row of b."""
    ix = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(
        a[:, None, 0], b[None, :, 0]
    )
    iy = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(
        a[:, None, 1], b[None, :, 1]
    )
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    out: np.ndarray = inter / np.maximum(union, 1e-12)
    return out


class Tracker:
    """Feed frames in time order; finished() returns tracks that ended, close() the rest.

    Tracks hold only the frames where a detection updated them; the engine fills gaps after linking.
    """

    def __init__(self, fps: float, settings: TrackerSettings | None = None) -> None:
        """fps: the analysis rate, i.e. how often update() is called per second of footage."""
        self.settings = settings or TrackerSettings()
        self.fps = fps
        buffer_frames = max(1, round(self.settings.lost_buffer_s * fps))
        # supervision scales the buffer by frame_rate / 30; pass 30 so the buffer is in our own frames.
        with warnings.catch_warnings():
            # sv.ByteTrack is deprecated in 0.30 and gone in 0.31: pyproject pins supervision below 0.31.
            warnings.simplefilter("ignore", FutureWarning)
            self._bt = sv.ByteTrack(
                track_activation_threshold=self.settings.high_threshold,
                lost_track_buffer=buffer_frames,
                minimum_matching_threshold=self.settings.match_threshold,
                frame_rate=30,
                minimum_consecutive_frames=1,
            )
        self._open: dict[int, Track] = {}
        self._last_seen: dict[int, int] = {}  # track id -> analysed-frame counter
        self._step = 0
        self._buffer = buffer_frames
        # ByteTrack may revive an id after we closed its track; such revivals get a fresh id of our own.
        self._closed: set[int] = set()
        self._alias: dict[int, int] = {}
        self._next_alias = 1_000_000

    def update(self, frame: int, t: float, detections: Sequence[Detection]) -> list[tuple[int, Detection]]:
        """Track ids for this frame's detections (detections no track took are left out)."""
        self._step += 1
        tensors = np.array(
            [[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3], d.score] for d in detections],
            dtype=np.float32,
        ).reshape(-1, 5)
        tracks = self._bt.update_with_tensors(tensors)
        assigned = [(self._own_id(tid), det) for tid, det in self._map_back(tracks, detections)]
        for track_id, det in assigned:
            track = self._open.setdefault(track_id, Track(track_id=track_id))
            track.frames.append(TrackFrame(frame=frame, t=t, box=det.box, score=det.score))
            self._last_seen[track_id] = self._step
        return assigned

    def _own_id(self, tid: int) -> int:
        if tid in self._alias:
            return self._alias[tid]
        if tid in self._closed:
            self._alias[tid] = self._next_alias
            self._next_alias += 1
            return self._alias[tid]
        return tid

    def _map_back(
        self, tracks: Sequence[sv.STrack], detections: Sequence[Detection]
    ) -> list[tuple[int, Detection]]:
        if not tracks or not detections:
            return []
        det_boxes = np.array([d.box for d in detections], dtype=np.float64)
        # The Kalman state is (centre x, centre y, aspect, height, ...); reading it directly avoids the
        # library's tlbr property, which costs more than the rest of this mapping.
        state = np.array([t.mean[:4] for t in tracks], dtype=np.float64)
        w = state[:, 2] * state[:, 3]
        trk_boxes = np.stack([state[:, 0] - w / 2, state[:, 1] - state[:, 3] / 2, w, state[:, 3]], axis=1)
        ious = _iou_matrix(trk_boxes, det_boxes)
        same_score = np.array([[float(t.score) == d.score for d in detections] for t in tracks])
        # An exact score match identifies the updating detection; IoU breaks (rare) ties.
        cost = np.where(same_score, 0.0, 1.0) + (1.0 - ious)
        rows, cols = linear_sum_assignment(cost)
        pairs = zip(rows, cols, strict=True)
        return [(int(tracks[r].external_track_id), detections[c]) for r, c in pairs if cost[r, c] < 1.5]

    def finished(self) -> list[Track]:
        """Tracks the tracker can no longer extend (lost for longer than its buffer)."""
        done = [tid for tid, seen in self._last_seen.items() if self._step - seen > self._buffer + 1]
        return self._pop(done)

    def open_ids(self) -> set[int]:
        return set(self._open)

    def close(self) -> list[Track]:
        return self._pop(list(self._open))

    def _pop(self, ids: list[int]) -> list[Track]:
        out = []
        for tid in ids:
            track = self._open.pop(tid)
            del self._last_seen[tid]
            self._closed.add(tid)
            self._alias = {k: v for k, v in self._alias.items() if v != tid}
            if len(track.frames) >= self.settings.min_track_frames:
                out.append(track)
        return out


def interpolate(track: Track, max_gap_s: float, times: Sequence[float]) -> Track:
    """Fill gaps up to max_gap_s linearly between the boxes either side, on every decoded frame between.

    Filled frames keep their own decoded timestamps (times[i]) and score 0.0.
    """
    filled: list[TrackFrame] = track.frames[:1]
    for prev, cur in zip(track.frames, track.frames[1:], strict=False):
        gap = cur.frame - prev.frame
        if gap > 1 and cur.t - prev.t <= max_gap_s and cur.frame <= len(times):
            for k in range(1, gap):
                a = k / gap
                x, y, w, h = (p + (c - p) * a for p, c in zip(prev.box, cur.box, strict=True))
                i = prev.frame + k
                filled.append(TrackFrame(frame=i, t=times[i], box=(x, y, w, h), score=0.0))
        filled.append(cur)
    return Track(track_id=track.track_id, frames=filled)
