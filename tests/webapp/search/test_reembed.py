"""A case indexed with an earlier default embedder (OSNet x0.25, the former accurate pack) is re-embedded for
the embedder the workers run now, as a stage of the next search job: never mixed, never left unusable.

Real PETS clip, real models: the stale index is made by embedding the case's own snapshot crops with
OSNet x0.25, exactly as an earlier release left it; re-embedding must give back the vectors the current
embedder made at ingest (the same crops), and the search then runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import search_pets

from reid_core.index import VectorKey
from webapp.footage import index_store
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _make_stale(case_id: int, video_path: Any) -> tuple[list[VectorKey], np.ndarray]:
    from reid_core.index import VectorIndex
    from reid_core.index_folder import IndexFolder
    from reid_core.pipeline import Engine

    index, catalog = index_store.load_case_index(case_id)
    places = [
        (name, tid, info)
        for name, rec in catalog.videos.items()
        for tid, infos in rec.snapshots.items()
        for info in infos
    ]
    keys = [VectorKey(name, tid, info.snapshot) for name, tid, info in places]
    current = np.asarray(index.vectors(keys))
    dirs = search_pets.models_dirs()  # the shared models folder holds the former default
    old = Engine.load("trained", dirs=dirs, threads=2, embedder="osnet_x0_25_msmt17")
    vectors = old.embed_places(video_path, [(info.frame, info.box) for _, _, info in places])
    stale = VectorIndex(old.embedder.dim)
    stale.add(keys, vectors)
    directory = index_store.index_dir(case_id)
    folder = IndexFolder(directory, index, catalog)
    folder.replace_vectors(stale, old.models_info())
    folder.save()
    return keys, current


def test_a_stale_index_is_re_embedded_before_it_is_used(case: Any, pets: search_pets.PetsIngest) -> None:
    from webapp.engine import get_engine

    video = search_pets.store_pets(case, pets)
    keys, current = _make_stale(case.pk, video.original.path)
    assert index_store.built_with(case.pk) == "osnet_x0_25_msmt17"

    job = Job.objects.create(case=case, kind=JobKind.SEARCH)
    reporter = jobs.Reporter(job, min_interval_s=0)
    assert index_store.bring_up_to_date(case_id=case.pk, reporter=reporter)
    job.refresh_from_db()
    assert job.stage == index_store.STAGE and job.total == len(keys) and job.done == len(keys)

    index, catalog = index_store.load_case_index(case.pk)
    assert catalog.models == get_engine().models_info() and catalog.models["embedder"] == "omz_reid_0277"
    assert index.dim == 256 and len(index) == len(keys)
    # The same crops, embedded again by the same model: the vectors the ingest made (to bfloat16's precision,
    # which depends on how crops are batched: cosine >= 0.99 for every snapshot).
    again = np.asarray(index.vectors(keys))
    assert float(np.min(np.sum(again * current, axis=1))) >= 0.99
    # Up to date now: nothing more to do.
    assert not index_store.bring_up_to_date(case_id=case.pk, reporter=reporter)
