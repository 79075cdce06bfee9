"""Engine fixtures: the trained pack (bundled), and PETS09-S2L1 indexed once per session.

The shared folder is found through SIGHTLINE_SHARED_DIR (default <repo>/../shared); REID_MODELS_DIRS is
pointed at its models/ for the whole session unless already set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
PETS = SHARED / "data" / "pets09_s2l1"


@pytest.fixture(scope="session", autouse=True)
def _models_dirs_env() -> Iterator[None]:
    before = os.environ.get("REID_MODELS_DIRS")
    if not before:
        os.environ["REID_MODELS_DIRS"] = str(SHARED / "models")
    yield
    if before is None:
        os.environ.pop("REID_MODELS_DIRS", None)


@pytest.fixture(scope="session")
def shared_root() -> Path:
    assert SHARED.is_dir(), f"shared data folder not found at {SHARED} (set SIGHTLINE_SHARED_DIR)"
    return SHARED


@pytest.fixture(scope="session")
def pets_video() -> Path:
    path = PETS / "vtest.avi"
    assert path.is_file(), f"PETS09-S2L1 not found at {path} (set SIGHTLINE_SHARED_DIR)"
    return path


@pytest.fixture(scope="session")
def pets_gt() -> Path:
    return PETS / "gt.txt"


@pytest.fixture(scope="session")
def engine():
    from reid_core.pipeline import Engine

    return Engine.load("trained", threads=2)


@dataclass
class PetsIndex:
    ingest: object  # reid_core.types.VideoIngest
    detections: dict  # frame index -> raw detections
    progress: list  # every Progress the ingest reported
    directory: Path  # index + catalog saved as `reid index` saves them


@pytest.fixture(scope="session")
def pets_index(engine, pets_video: Path, tmp_path_factory: pytest.TempPathFactory) -> PetsIndex:
    """PETS09-S2L1 at 10 fps (every frame), indexed once for every engine test."""
    from reid_core.catalog import Catalog
    from reid_core.cli import INDEX_SUBDIR
    from reid_core.index import VectorIndex
    from reid_core.pipeline import add_to_index

    detections: dict = {}
    progress: list = []
    ingest = engine.ingest(
        pets_video,
        video="vtest.avi",
        progress=progress.append,
        on_frame=lambda frame, dets: detections.__setitem__(frame.index, dets),
    )
    directory = tmp_path_factory.mktemp("pets_index")
    index = VectorIndex(engine.embedder.dim)
    catalog = Catalog(models=engine.models_info())
    add_to_index(index, catalog, ingest)
    index.save(directory / INDEX_SUBDIR)
    catalog.save(directory)
    return PetsIndex(ingest, detections, progress, directory)
