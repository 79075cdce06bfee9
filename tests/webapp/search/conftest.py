"""Search test fixtures: the PETS clip analysed once per run (search_pets), stored into each test's case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import search_pets


@pytest.fixture(scope="session")
def pets(pytestconfig: pytest.Config, shared_dir: Path) -> search_pets.PetsIngest:
    if not search_pets.pets_clip().exists():
        pytest.fail(f"the PETS clip is missing at {search_pets.pets_clip()}: set SIGHTLINE_SHARED_DIR")
    return search_pets.pets_ingest(pytestconfig.cache.mkdir("sightline-search-pets"))


@pytest.fixture
def pets_video(case: Any, pets: search_pets.PetsIngest) -> Any:
    """The `case` fixture's case holding the analysed PETS clip (a ready video)."""
    return search_pets.store_pets(case, pets)


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Query photos from the clip: one person (reid_core's evaluation query crop), a whole frame with several
    people, and an empty corner of the scene."""
    folder = tmp_path_factory.mktemp("photos")
    import cv2

    query = search_pets.largest_query()
    image = search_pets.frame_image(query.frame)
    out = {"person": search_pets.save_crop(image, query.box, folder / "person.jpg")}
    cv2.imwrite(str(folder / "scene.jpg"), image)
    out["scene"] = folder / "scene.jpg"
    # The top-left corner of the scene: a lawn and a road no one walks on in the clip.
    cv2.imwrite(str(folder / "empty.jpg"), image[0:150, 0:300])
    out["empty"] = folder / "empty.jpg"
    return out
