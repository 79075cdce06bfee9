"""Detection geometry and the YOLOX adapter on a real PETS frame; ByteTrack keeping the detector's boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid_core.detect import filter_detections, letterbox, nms
from reid_core.eval.mot import iou, load_mot_gt
from reid_core.track import Tracker
from reid_core.video import iter_frames


def test_letterbox_keeps_aspect_at_top_left() -> None:
    image = np.full((576, 768, 3), 7, dtype=np.uint8)
    lb = letterbox(image, 416, 416, 114)
    assert lb.scale == 416 / 768
    assert lb.image.shape == (416, 416, 3)
    assert lb.image[311, 415, 0] == 7 and lb.image[313, 0, 0] == 114


def test_nms_and_filter() -> None:
    boxes = np.array([[0, 0, 10, 20], [1, 0, 10, 20], [50, 50, 10, 20], [0, 0, 3, 3]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95], dtype=np.float32)
    assert sorted(nms(boxes[:3], scores[:3], 0.5)) == [0, 2]
    kept = filter_detections(boxes, scores, conf=0.75, nms_iou=0.5, min_size=5, width=100, height=100)
    assert [d.score for d in kept] == [np.float32(0.9)]  # the tiny box and the low score are gone


def test_yolox_finds_the_people_of_a_pets_frame(engine, pets_video: Path, pets_gt: Path) -> None:
    gt = [g for g in load_mot_gt(pets_gt) if g.frame == 100]
    frame = next(f for f in iter_frames(pets_video) if f.index == 100)
    dets = [d for d in engine.detector.detect([frame.image])[0] if d.score >= 0.3]
    found = sum(any(iou(d.box, g.box) >= 0.5 for d in dets) for g in gt)
    assert len(gt) >= 5 and found >= len(gt) - 1
    assert len(dets) <= len(gt) + 2


def test_tracks_keep_detector_boxes_and_times(engine, pets_video: Path) -> None:
    tracker = Tracker(10.0)
    times: list[float] = []
    seen: dict[int, set[tuple[float, float, float, float]]] = {}
    tracks = []
    for frame in iter_frames(pets_video, None, times):
        if frame.index >= 80:
            break
        dets = engine.detector.detect([frame.image])[0]
        seen[frame.index] = {d.box for d in dets}
        tracker.update(frame.index, frame.t, dets)
        tracks += tracker.finished()
    tracks += tracker.close()
    assert len(tracks) >= 4
    assert len({t.track_id for t in tracks}) == len(tracks)
    for track in tracks:
        frames = [f.frame for f in track.frames]
        assert frames == sorted(set(frames))
        for f in track.frames:
            assert f.t == times[f.frame]
            if f.score > 0:  # a real detection, not an interpolated gap
                assert f.box in seen[f.frame]
