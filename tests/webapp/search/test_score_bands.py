"""The similarity words checked on the PETS clip with the real models: for every person reid_core's
evaluation queries (its query crop), the tracks of that person (away from the query's own frames) against
the tracks of other people, with the bands calibrated for the embedder (bench/calibrate_bands.py, on crop
pairs). Here the unit is what a user reads: a ranked track's score.

"Other people" are tracks of ids seen in the picture at the same moment as the query's person: PETS gives
a person who leaves and comes back a new id, so a track of an id never seen together with the query's may
be the same person (as in the calibration, such tracks are left out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import search_pets

from reid_core.search import SnapshotRef, score_tracks
from webapp.search import scores

pytestmark = [pytest.mark.slow]

WINDOW = 10  # snapshots this close to the query's own frame are not used (as in reid_core's evaluation)


def test_bands_on_pets(pets: search_pets.PetsIngest) -> None:
    if pets.models.get("appearance_only"):
        pytest.skip("these figures are for the trained pack; the appearance pack never says 'same person'")
    engine = search_pets.load_engine()
    ingest = pets.ingest
    refs = [SnapshotRef("v", s.track_id, s.snapshot, s.frame) for s in ingest.snapshots]
    vectors = np.stack([s.vector for s in ingest.snapshots]).astype(np.float32)
    rows = {t.track_id: [[f.frame, f.t, *f.box] for f in t.frames] for t in ingest.tracks}
    same: list[float] = []
    other: list[float] = []
    queries = search_pets.gt_queries()
    every_id = {g.gt_id for g in queries}
    every_id |= {int(line.split(",")[1]) for line in search_pets.pets_gt().read_text().splitlines() if line}
    boxes = {gid: search_pets.gt_boxes(gid) for gid in every_id}
    for q in queries:
        query = engine.query_vector(search_pets.frame_image(q.frame), q.box)
        gt = boxes[q.gt_id]
        together = {gid for gid, b in boxes.items() if gid != q.gt_id and set(b) & set(gt)}
        # Leak-free: snapshots near the query's own frame are not used (linked tracks are long, so the
        # person's track usually holds that frame too; it is scored on its other snapshots).
        keep = [i for i, r in enumerate(refs) if abs(r.frame - q.frame) > WINDOW]
        kept_refs = [refs[i] for i in keep]
        for ts in score_tracks(query, vectors[keep], kept_refs, engine.settings.scoring):
            track = rows[ts.key[1]]
            if search_pets.track_matches(track, gt) >= 0.5:
                same.append(ts.score)
            elif any(search_pets.track_matches(track, boxes[gid]) >= 0.5 for gid in together):
                other.append(ts.score)
    bands = scores.bands_for(pets.models)
    assert bands.calibrated

    def in_band(values: list[float], key: str) -> int:
        return sum(1 for v in values if scores.band(v, bands) == key)

    keys = ["very_similar", "similar", "somewhat_similar", "not_similar"]
    table = {k: (in_band(same, k), in_band(other, k)) for k in keys}
    print(
        f"same person: {len(same)} tracks, percentiles 10/50/90 {np.percentile(same, [10, 50, 90]).round(3)}"
    )
    print(f"others: {len(other)} tracks, percentiles 50/90/99 {np.percentile(other, [50, 90, 99]).round(3)}")
    print("band: (same person, others)", table)
    assert len(same) >= 10 and len(other) >= 50
    # Nearly all of the person's tracks are at least "somewhat similar"...
    assert sum(table[k][0] for k in keys[:3]) >= 0.85 * len(same)
    # ... while most other people's tracks "look different".
    assert table["not_similar"][1] >= 0.5 * len(other)

    def share(key: str) -> float:
        s, o = table[key]
        return s / max(1, s + o)

    # "Likely the same person" is right at least 9 times in 10 here too, the share grows band by band, and
    # "Looks different" holds almost none of the person's tracks (21 tracks: one either way is 5 points).
    assert share("very_similar") >= 0.9
    assert share("very_similar") >= share("similar") >= share("somewhat_similar")
    assert share("not_similar") <= 0.05


def test_words(settings: Any) -> None:
    trained = {"embedder": "omz_reid_0277", "appearance_only": False}
    assert scores.describe(0.5, trained) == {
        "score": 0.5,
        "band": "very_similar",
        "words": "Likely the same person",
    }
    assert scores.describe(0.1, trained)["words"] == "Looks different"
    # The appearance-only pack never says "same person", however high the score.
    appearance = {"embedder": "mobilenetv2_colour", "appearance_only": True}
    assert scores.describe(0.99, appearance)["band"] == "similar"
    assert all("same person" not in scores.describe(s, appearance)["words"] for s in (0.5, 0.8, 0.9, 1.0))
    # A plug-in without calibration never claims "same person" either.
    plugin = {"embedder": "not-in-any-manifest", "appearance_only": False}
    assert "same person" not in scores.describe(0.99, plugin)["words"]
