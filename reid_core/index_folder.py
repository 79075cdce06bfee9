"""A search index folder: the one layout `reid index --out` writes, `reid search --index` reads and the web
app keeps for each case. Callers use this module and read no file inside the folder.

    catalog.json   videos, tracks, snapshots and the models the vectors were made with (reid_core.catalog)
    vectors/       the snapshot vectors: numbered versions and CURRENT (reid_core.index)

Saving is atomic per part, in the order that keeps a reader right at any moment: a search ignores vectors of
videos the catalog does not list, so when videos were added the vectors go first and the catalog last; when
videos were only removed, the catalog goes first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reid_core.catalog import FILENAME as CATALOG_FILE
from reid_core.catalog import Catalog
from reid_core.index import VectorIndex, saved_version
from reid_core.types import ReidError, VideoIngest

VECTORS = "vectors"


class ModelMismatch(ReidError):
    """The folder's vectors were made by another embedder than the one at hand: they cannot be compared."""

    def __init__(self, built: str, mine: str) -> None:
        super().__init__(
            f"this index was built with the embedder {built!r} but the engine loaded {mine!r}; "
            "search it with the same model pack (e.g. --pack) or rebuild the index"
        )
        self.built, self.mine = built, mine


def check_compatible(built: dict[str, Any], models: dict[str, Any]) -> None:
    """The one compatibility check: ModelMismatch when both name an embedder and they differ."""
    made_with, mine = built.get("embedder"), models.get("embedder")
    if made_with is not None and mine is not None and made_with != mine:
        raise ModelMismatch(str(made_with), str(mine))


def exists(directory: Path) -> bool:
    """Whether anything was indexed in the folder (its catalog was saved)."""
    return (Path(directory) / CATALOG_FILE).exists()


def has_vectors(directory: Path) -> bool:
    return (Path(directory) / VECTORS).exists()


def version(directory: Path) -> tuple[object, ...]:
    """Changes whenever a save replaced the catalog or the vectors (OSError while there is none): a reader
    may keep what it loaded while this stays the same."""
    catalog = (Path(directory) / CATALOG_FILE).stat()
    current = saved_version(Path(directory) / VECTORS)
    if current is None:
        raise FileNotFoundError(Path(directory) / VECTORS)
    return (catalog.st_mtime_ns, catalog.st_size, catalog.st_ino, current)


def read_models(directory: Path) -> dict[str, Any]:
    """The models the folder was made with, without parsing the whole catalog (the entry is written first);
    {} when there is no catalog or it names none."""
    try:
        with (Path(directory) / CATALOG_FILE).open() as fh:
            head = fh.read(1 << 16)
        start = head.index('"models":') + len('"models":')
        models, _ = json.JSONDecoder().raw_decode(head, start)
        return dict(models)
    except (OSError, ValueError):
        return {}


def load_vectors(directory: Path) -> VectorIndex:
    return VectorIndex.load(Path(directory) / VECTORS)


@dataclass
class IndexFolder:
    directory: Path
    index: VectorIndex
    catalog: Catalog
    _grown: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, directory: Path) -> IndexFolder:
        directory = Path(directory)
        catalog = Catalog.load(directory)  # first: its error says when there is no index here
        return cls(directory, load_vectors(directory), catalog)

    @classmethod
    def create(cls, directory: Path, models: dict[str, Any]) -> IndexFolder:
        """An empty folder for vectors of these models (models_info() of the engine); written by save()."""
        return cls(Path(directory), VectorIndex(int(models["dim"])), Catalog(models=dict(models)))

    @classmethod
    def open_or_create(cls, directory: Path, models: dict[str, Any]) -> IndexFolder:
        """The folder to add vectors of these models to: an existing one must have been made by the same
        embedder (ModelMismatch otherwise)."""
        if not exists(directory):
            return cls.create(directory, models)
        folder = cls.open(directory)
        folder.check_compatible(models)
        return folder

    @property
    def models(self) -> dict[str, Any]:
        return self.catalog.models

    def check_compatible(self, models: dict[str, Any]) -> None:
        check_compatible(self.catalog.models, models)

    def add_video(self, ingest: VideoIngest) -> None:
        """Store one ingested video (replacing an earlier one of the same name)."""
        from reid_core.pipeline import add_to_index  # numpy stacking only; keeps this module's imports light

        add_to_index(self.index, self.catalog, ingest)
        self._grown = True

    def remove_video(self, video: str) -> None:
        self.index.remove_video(video)
        self.catalog.remove(video)

    def replace_vectors(self, index: VectorIndex, models: dict[str, Any]) -> None:
        """New vectors for the same snapshots, made by other models (re-embedding)."""
        self.index, self.catalog.models = index, dict(models)
        self._grown = True

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._grown:
            self.index.save(self.directory / VECTORS)
            self.catalog.save(self.directory)
        else:
            self.catalog.save(self.directory)
            self.index.save(self.directory / VECTORS)
        self._grown = False
