"""The index folder's API, the one way the CLI and the web app make, change and read an index folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_catalog import DIM, make_ingest

from reid_core import index_folder
from reid_core.index_folder import IndexFolder, ModelMismatch

MODELS = {"dim": DIM, "embedder": "emb-a", "pack": "test"}


def test_create_add_save_open_round_trips_with_its_models(tmp_path: Path) -> None:
    assert not index_folder.exists(tmp_path) and index_folder.read_models(tmp_path) == {}
    folder = IndexFolder.open_or_create(tmp_path, MODELS)
    folder.add_video(make_ingest("a", seed=1))
    folder.add_video(make_ingest("b", seed=2))
    folder.save()
    assert index_folder.exists(tmp_path) and index_folder.has_vectors(tmp_path)
    assert index_folder.read_models(tmp_path) == MODELS
    again = IndexFolder.open(tmp_path)
    assert sorted(again.catalog.videos) == ["a", "b"] and again.models == MODELS
    assert len(again.index) == len(folder.index) == len(index_folder.load_vectors(tmp_path))


def test_the_version_changes_with_every_save_and_only_then(tmp_path: Path) -> None:
    folder = IndexFolder.create(tmp_path, MODELS)
    folder.add_video(make_ingest("a", seed=1))
    folder.save()
    first = index_folder.version(tmp_path)
    assert index_folder.version(tmp_path) == first
    folder.remove_video("a")
    folder.save()
    assert index_folder.version(tmp_path) != first
    assert IndexFolder.open(tmp_path).catalog.videos == {} and len(index_folder.load_vectors(tmp_path)) == 0


def test_one_compatibility_check_names_both_embedders(tmp_path: Path) -> None:
    folder = IndexFolder.create(tmp_path, MODELS)
    folder.add_video(make_ingest("a", seed=1))
    folder.save()
    with pytest.raises(ModelMismatch, match="'emb-a' but the engine loaded 'emb-b'") as raised:
        IndexFolder.open_or_create(tmp_path, {**MODELS, "embedder": "emb-b"})
    assert (raised.value.built, raised.value.mine) == ("emb-a", "emb-b")
    IndexFolder.open_or_create(tmp_path, MODELS).check_compatible({"dim": DIM})  # no embedder named: fine


def test_no_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"catalog"):
        IndexFolder.open(tmp_path / "missing")
    with pytest.raises(OSError):
        index_folder.version(tmp_path / "missing")
