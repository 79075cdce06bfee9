"""The case's index on disk (catalog.json + vectors/, the layout `reid index --out` writes) and its upkeep:
an index built with another embedder is re-embedded, never mixed and never left unusable.

Vectors of two embedders cannot be compared, so when the workers run another embedder than the one a case's
index was built with (an upgrade changed the default pack, or an operator chose another), the job that next
needs the index (an ingest or a search) first re-embeds it as a stage of its own, with progress: every
snapshot's crop is cut again from the original footage at the frame and box the catalog records and embedded
with the current model. Detection and tracking are not run again, so tracks, moments and verdicts stay. The
new vectors and the catalog (now naming the new models) replace the old ones atomically, under the case's
row lock, so no search ever sees a mixed index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from reid_core import index_folder
from reid_core.catalog import Catalog
from reid_core.index import VectorIndex, VectorKey
from reid_core.index_folder import IndexFolder
from reid_core.types import VideoIngest
from webapp.cases.models import Case
from webapp.engine import get_engine
from webapp.footage.models import Video
from webapp.jobs import services as jobs

logger = logging.getLogger(__name__)
STAGE = "re-embed"


def index_dir(case_id: int) -> Path:
    """The case's index folder (reid_core.index_folder: the layout `reid index --out` writes, so
    `reid search --index <this folder>` works on a case too)."""
    return Path(settings.MEDIA_ROOT) / "cases" / str(case_id) / "index"


def load_case_index(case_id: int) -> tuple[VectorIndex, Catalog] | None:
    """The case's vectors and catalog, or None while nothing was indexed in the case."""
    directory = index_dir(case_id)
    if not index_folder.exists(directory):
        return None
    folder = IndexFolder.open(directory)
    return folder.index, folder.catalog


def built_with(case_id: int) -> str | None:
    """The embedder the case's index was built with (None while nothing is indexed); reads only the head of
    the catalog, so every search and ingest can ask."""
    embedder = index_folder.read_models(index_dir(case_id)).get("embedder")
    return None if embedder is None else str(embedder)


def bring_up_to_date(*, case_id: int, reporter: jobs.Reporter) -> bool:
    """Re-embed the case's index when it was built with another embedder than the workers run now.

    Returns whether it did. Holds the case row lock throughout, so ingests of the same case wait for it.
    """
    engine = get_engine()
    models: dict[str, Any] = engine.models_info()
    if built_with(case_id) in (None, models.get("embedder")):
        return False  # the common case, decided without loading the index or taking the lock
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case_id)
        loaded = load_case_index(case_id)
        if loaded is None:
            return False
        old, catalog = loaded
        before = catalog.models.get("embedder")
        if before == models.get("embedder"):
            return False
        logger.info("case %s: re-embedding its index from %s to %s", case_id, before, models.get("embedder"))
        work = []
        for name, rec in catalog.videos.items():
            places = [(info, tid) for tid, infos in rec.snapshots.items() for info in infos]
            if places:
                work.append((name, places))
        total = sum(len(p) for _, p in work)
        reporter.stage(STAGE, total=total)
        index = VectorIndex(engine.embedder.dim)
        done = 0
        for name, places in work:
            video = Video.objects.filter(pk=int(name), case_id=case_id).first()
            if video is None or not video.original or not Path(video.original.path).is_file():
                raise jobs.JobError(
                    f"This case's index was made with the model {before!r}; re-embedding it for "
                    f"{models['embedder']!r} needs the original footage; video {name} is missing from the "
                    "media store."
                )

            def progress(n: int, base: int = done) -> None:
                reporter.progress(done=base + n, total=total)

            vectors = engine.embed_places(
                Path(video.original.path),
                [(info.frame, info.box) for info, _ in places],
                progress=progress,
                should_stop=reporter.should_stop,
            )
            index.add([VectorKey(name, tid, info.snapshot) for info, tid in places], np.asarray(vectors))
            done += len(places)
        # Saved vectors first, then the catalog that names their models: a reader that sees the new catalog
        # also sees the new vectors.
        folder = IndexFolder(index_dir(case_id), old, catalog)
        folder.replace_vectors(index, models)
        folder.save()
        del old
    return True


def change_case_index(
    case_id: int, change: Callable[[IndexFolder], None], models: dict[str, Any] | None
) -> None:
    """Open, change and save the case index. The caller holds the case row lock.

    With ``models`` (adding), a missing index is created for them, and an existing one must have been built
    by the same embedder. Without (removing), a missing index means there is nothing to remove.
    """
    directory = index_dir(case_id)
    if models is None:
        if not index_folder.exists(directory):
            return
        folder = IndexFolder.open(directory)
    else:
        try:
            folder = IndexFolder.open_or_create(directory, models)
        except index_folder.ModelMismatch as exc:
            raise jobs.JobError(
                f"This case was indexed with the model {exc.built!r} but the workers now run {exc.mine!r}: "
                "an operator must configure the same model pack or re-analyse the case's videos."
            ) from None
    change(folder)
    folder.save()


def add_ingest(result: VideoIngest) -> Callable[[IndexFolder], None]:
    return lambda folder: folder.add_video(result)


def forget_video(video_id: int) -> Callable[[IndexFolder], None]:
    return lambda folder: folder.remove_video(str(video_id))
