"""The engine end to end on real footage with the real accurate pack (PETS09-S2L1 indexed once)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from reid_core.catalog import Catalog
from reid_core.cli import INDEX_SUBDIR
from reid_core.eval.mot import iou, load_mot_gt
from reid_core.index import VectorIndex
from reid_core.types import CancelledError, EmptyFootageError, FootageError, NoPersonError
from reid_core.video import iter_frames

pytestmark = pytest.mark.slow


def _frame(video: Path, index: int) -> np.ndarray:
    return next(f.image for f in iter_frames(video) if f.index == index)


def test_ingest_tracks_people_with_few_embedding_calls(pets_index) -> None:
    ing = pets_index.ingest
    st = ing.stats
    assert st.frames_decoded == 795 and st.frames_analysed == 795
    assert 15 <= st.tracks <= 60  # 19 ground-truth ids, some fragmented
    assert {s.track_id for s in ing.snapshots} == {t.track_id for t in ing.tracks}
    # One network run per snapshot (no flip averaging), plus those of pieces left under 1 s after linking.
    assert len(ing.snapshots) <= st.embed_calls <= 1.1 * len(ing.snapshots)
    assert st.embed_calls * 10 < st.detections
    for track in ing.tracks:  # tracks detected for under 1 s (10 frames) are dropped after linking
        assert sum(1 for f in track.frames if f.score > 0) >= 10
        frames = [f.frame for f in track.frames]
        assert frames == sorted(set(frames))
    for s in ing.snapshots:
        assert abs(float(np.linalg.norm(s.vector)) - 1) < 1e-4
    for track in ing.tracks:
        assert all(f.t == pytest.approx(f.frame / 10) for f in track.frames)  # PETS pts: 10 fps


def test_progress_reports_frames_and_eta(pets_index) -> None:
    events = pets_index.progress
    assert events[-1].done == 795 and events[-1].total == 795
    assert all(a.done <= b.done for a, b in itertools.pairwise(events))
    assert all(e.fps > 0 for e in events[5:]) and events[10].eta_s is not None


def test_finds_a_chosen_person_in_the_top_results(
    engine, pets_index, pets_video: Path, pets_gt: Path
) -> None:
    gt = [g for g in load_mot_gt(pets_gt) if g.id == 4]
    query = max(gt[: len(gt) // 4], key=lambda g: g.box[3])  # eval protocol's query box for id 4
    image = _frame(pets_video, query.frame)
    x, y, w, h = (round(v) for v in query.box)
    crop = image[y : y + h, x : x + w]  # a tight crop, as a user would upload it
    index = VectorIndex.load(pets_index.directory / INDEX_SUBDIR)
    catalog = Catalog.load(pets_index.directory)
    moments = engine.search(index, catalog, crop, top_k=5)
    assert 1 <= len(moments) <= 5
    assert all(a.score >= b.score for a, b in itertools.pairwise(moments))
    by_frame = {g.frame: g.box for g in gt}
    # Among the top 3 moments, one follows person 4 for most of a second or more, far from the query frame.
    far = [
        m
        for m in moments[:3]
        if sum(1 for f in m.frames if f.frame in by_frame and iou(f.box, by_frame[f.frame]) >= 0.5) >= 10
    ]
    assert far, [(m.track_id, m.start_s, m.end_s) for m in moments]
    best = far[0]
    assert best.start_s <= best.best.t <= best.end_s
    assert best.frames[0].t == best.start_s and best.frames[-1].t == best.end_s


def test_scene_photo_gives_candidates_and_uses_the_largest(engine, pets_video: Path) -> None:
    image = _frame(pets_video, 525)
    box, people = engine.choose_query_box(image)
    assert len(people) >= 4
    assert box == people[0].box
    assert people[0].box[2] * people[0].box[3] >= people[1].box[2] * people[1].box[3]


def test_image_without_a_person_is_a_clear_error(engine, pets_video: Path) -> None:
    image = _frame(pets_video, 0)[0:150, 0:200]  # PETS frame 0's top-left corner: building, nobody
    with pytest.raises(NoPersonError, match="no person"):
        engine.query_vector(image)


def test_gallery_folder_every_person_is_a_moment(engine, shared_root: Path, tmp_path: Path) -> None:
    src = shared_root / "data" / "mot17_mini" / "MOT17-02-FRCNN" / "img1"
    for name in ("000001.jpg", "000002.jpg"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    ing = engine.ingest(tmp_path, video="gallery")
    assert ing.stats.frames_analysed == 2
    assert ing.stats.tracks >= 4  # MOT17-02's first frames show a dozen people
    assert all(len(t.frames) == 1 for t in ing.tracks)
    # Every person found at a query photo's confidence is searchable (a still is one chance).
    assert all(t.frames[0].score >= engine.settings.query_min_score for t in ing.tracks)
    assert ing.files == ("000001.jpg", "000002.jpg")
    assert len(ing.snapshots) == ing.stats.tracks


def test_bad_inputs_are_clear_errors(engine, tmp_path: Path) -> None:
    with pytest.raises(EmptyFootageError, match="no images"):
        engine.ingest(tmp_path, video="empty")
    bad = tmp_path / "corrupt.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(2000))
    with pytest.raises(FootageError, match=r"corrupt\.avi"):
        engine.ingest(bad, video="corrupt")


def test_should_stop_cancels_an_ingest(engine, pets_video: Path) -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(CancelledError, match="cancelled"):
        engine.ingest(pets_video, video="v", should_stop=stop)
    assert calls["n"] == 6


def test_confirmed_and_rejected_hits_refine_the_search(engine, pets_index, pets_video: Path) -> None:
    index = VectorIndex.load(pets_index.directory / INDEX_SUBDIR)
    catalog = Catalog.load(pets_index.directory)
    image = _frame(pets_video, 525)
    box, _ = engine.choose_query_box(image)
    first = engine.search(index, catalog, image, box=box, top_k=10)
    picked = first[3]  # a user confirms a hit further down the list ...
    confirmed = engine.search(
        index, catalog, image, box=box, top_k=10, confirmed=[("vtest.avi", picked.track_id)]
    )
    assert confirmed[0].track_id == picked.track_id  # ... and it now leads, being part of the query
    dropped = first[0]
    rejected = engine.search(
        index, catalog, image, box=box, top_k=10, rejected=[("vtest.avi", dropped.track_id)]
    )
    assert dropped.track_id not in {m.track_id for m in rejected}
    reranked = engine.search(index, catalog, image, box=box, top_k=10, rerank=True)
    assert {m.track_id for m in reranked} <= set(catalog.videos["vtest.avi"].tracks)
    high = engine.search(index, catalog, image, box=box, top_k=10, min_score=first[2].score)
    assert [m.track_id for m in high] == [m.track_id for m in first[:3]]
