"""Query photos as users bring them: tight crops of a person, several photos of one person, and photos that
show nobody. Real detector and embedder (the trained pack), real PETS09-S2L1 frames and ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_core.eval.mot import load_mot_gt
from reid_core.types import NoPersonError
from reid_core.video import iter_frames


def test_every_ground_truth_crop_is_searchable(engine, pets_video: Path, pets_gt: Path) -> None:
    """Every PETS ground-truth box of at least 32x64 px at every 20th frame, cut out as a tight crop, is
    taken as a person (before, a detector run on the crop alone missed some: 'no person found')."""
    gt = [g for g in load_mot_gt(pets_gt) if g.frame % 20 == 0 and g.box[2] >= 32 and g.box[3] >= 64]
    wanted = {g.frame for g in gt}
    images = {f.index: f.image for f in iter_frames(pets_video) if f.index in wanted}
    failures = []
    for g in gt:
        image = images[g.frame]
        x, y, w, h = (round(v) for v in g.box)
        tight = np.ascontiguousarray(image[max(y, 0) : y + h, max(x, 0) : x + w])
        try:
            box, _ = engine.choose_query_box(tight)
        except NoPersonError:
            failures.append((g.frame, g.id, "no person"))
            continue
        th, tw = tight.shape[:2]
        if box[2] * box[3] < 0.5 * tw * th:
            failures.append((g.frame, g.id, f"only a part: {box}"))
    assert len(gt) >= 50
    assert failures == []


def test_photos_without_a_person_are_still_refused(engine, pets_video: Path) -> None:
    corner = next(iter_frames(pets_video)).image[0:150, 0:200]  # frame 0's top-left: building, nobody
    wall = np.full((200, 120, 3), 128, dtype=np.uint8)  # person-shaped and empty
    noise = np.random.default_rng(0).integers(0, 255, (256, 128, 3), dtype=np.uint8)
    for image in (corner, wall, noise):
        with pytest.raises(NoPersonError, match="no person"):
            engine.choose_query_box(image)


def test_several_photos_fuse_into_one_query(engine, pets_index, pets_video: Path, pets_gt: Path) -> None:
    """Two photos of one person from different moments rank that person's moments at least as well as the
    worse of the two alone, and the fused vector is the normalised mean."""
    from reid_core.catalog import Catalog
    from reid_core.cli import INDEX_SUBDIR
    from reid_core.index import VectorIndex

    gt = [g for g in load_mot_gt(pets_gt) if g.id == 1]
    early, late = gt[10], gt[-10]
    frames = {f.index: f.image for f in iter_frames(pets_video) if f.index in (early.frame, late.frame)}
    a = engine.query_vector(frames[early.frame], early.box)
    b = engine.query_vector(frames[late.frame], late.box)
    fused = engine.fused_query([a, b])
    expected = (a + b) / np.linalg.norm(a + b)
    assert np.allclose(fused, expected, atol=1e-6)

    catalog = Catalog.load(pets_index.directory)
    index = VectorIndex.load(pets_index.directory / INDEX_SUBDIR)
    moments = engine.search(
        index,
        catalog,
        frames[early.frame],
        box=early.box,
        top_k=5,
        more_photos=[(frames[late.frame], late.box)],
    )
    assert moments and moments[0].score > 0
    # The fused query's top moment overlaps person 1 in its best frame.
    from reid_core.eval.mot import iou

    by_frame = {g.frame: g.box for g in gt}
    top = moments[0]
    assert any(iou(f.box, by_frame[f.frame]) >= 0.5 for f in top.frames if f.frame in by_frame)


def test_written_crop_round_trip(tmp_path: Path, engine, pets_video: Path, pets_gt: Path) -> None:
    """A crop saved as a JPEG (as a user's photo arrives) is still found as a person."""
    g = next(g for g in load_mot_gt(pets_gt) if g.frame == 100)
    image = next(f.image for f in iter_frames(pets_video) if f.index == 100)
    x, y, w, h = (round(v) for v in g.box)
    path = tmp_path / "crop.jpg"
    cv2.imwrite(str(path), image[y : y + h, x : x + w])
    photo = cv2.imread(str(path))
    box, _ = engine.choose_query_box(photo)
    assert box[2] * box[3] >= 0.5 * photo.shape[0] * photo.shape[1]
