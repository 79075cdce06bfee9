"""The similarity words checked on the PETS clip with the real models: for every person reid_core's
evaluation queries (its query crop), the tracks of that person (away from the query's own frames) against
the tracks of other people. Prints the distributions the bands in webapp/search/scores.py were read from."""

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
        pytest.skip("the appearance-only pack's bands are not calibrated on labelled footage (scores.py)")
    engine = search_pets.load_engine()
    ingest = pets.ingest
    refs = [SnapshotRef("v", s.track_id, s.snapshot, s.frame) for s in ingest.snapshots]
    vectors = np.stack([s.vector for s in ingest.snapshots]).astype(np.float32)
    rows = {t.track_id: [[f.frame, f.t, *f.box] for f in t.frames] for t in ingest.tracks}
    same: list[float] = []
    other: list[float] = []
    for q in search_pets.gt_queries():
        query = engine.query_vector(search_pets.frame_image(q.frame), q.box)
        gt = search_pets.gt_boxes(q.gt_id)
        # Leak-free: snapshots near the query's own frame are not used (linked tracks are long, so the
        # person's track usually holds that frame too; it is scored on its other snapshots).
        keep = [i for i, r in enumerate(refs) if abs(r.frame - q.frame) > WINDOW]
        kept_refs = [refs[i] for i in keep]
        for ts in score_tracks(query, vectors[keep], kept_refs, engine.settings.scoring):
            track = rows[ts.key[1]]
            share = search_pets.track_matches(track, gt)
            if share >= 0.5:
                same.append(ts.score)
            elif share < 0.1:
                other.append(ts.score)
    bands = scores.bands_for(False)

    def in_band(values: list[float], key: str) -> int:
        return sum(1 for v in values if scores.band(v, bands) == key)

    keys = ["very_similar", "similar", "somewhat_similar", "not_similar"]
    table = {k: (in_band(same, k), in_band(other, k)) for k in keys}
    print(
        f"same person: {len(same)} tracks, percentiles 10/50/90 {np.percentile(same, [10, 50, 90]).round(3)}"
    )
    print(f"others: {len(other)} tracks, percentiles 50/90/99 {np.percentile(other, [50, 90, 99]).round(3)}")
    print("band: (same person, others)", table)
    assert len(same) >= 10 and len(other) >= 100
    # Nearly all of the person's tracks are at least "somewhat similar"...
    assert sum(table[k][0] for k in keys[:3]) >= 0.85 * len(same)
    # ... while most other people's tracks "look different".
    assert table["not_similar"][1] >= 0.5 * len(other)

    def share(key: str) -> float:
        s, o = table[key]
        return s / max(1, s + o)

    # The share of the person's tracks grows band by band.
    assert share("very_similar") >= share("similar") >= share("somewhat_similar") > share("not_similar")


def test_words(settings: Any) -> None:
    assert scores.describe(0.8, False) == {
        "score": 0.8,
        "band": "very_similar",
        "words": "Looks very similar",
    }
    assert scores.describe(0.5, False)["words"] == "Looks different"
    assert scores.describe(0.86, True)["band"] == "similar"
