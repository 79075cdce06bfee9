"""The tus upload store on disk: offsets, limits, hashing across restarts, termination, expiry."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp.footage import uploads
from webapp.footage.uploads import UploadError, UploadStore, parse_metadata


@pytest.fixture
def store(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", max_bytes=10_000_000, expiry_s=3600)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_upload_in_pieces_records_the_sha256(store: UploadStore) -> None:
    data = os.urandom(1_000_003)
    info = store.create(case_id=1, user_id=2, length=len(data), metadata={"filename": "cam1.avi"})
    assert store.get(info.id).offset == 0
    info = store.append(info.id, offset=0, chunks=chunks(data[:400_000], 65536))
    assert (info.offset, info.complete, info.sha256) == (400_000, False, "")
    info = store.append(info.id, offset=400_000, chunks=chunks(data[400_000:], 65536))
    assert info.complete
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get(info.id).sha256 == info.sha256
    assert store.data_path(info.id).read_bytes() == data


def test_wrong_offset_is_a_conflict_and_writes_nothing(store: UploadStore) -> None:
    info = store.create(case_id=1, user_id=2, length=100, metadata={})
    store.append(info.id, offset=0, chunks=[b"x" * 40])
    with pytest.raises(UploadError) as err:
        store.append(info.id, offset=10, chunks=[b"y" * 10])
    assert err.value.status == 409
    assert store.get(info.id).offset == 40


def test_size_limit_and_overlong_body(store: UploadStore) -> None:
    with pytest.raises(UploadError) as err:
        store.create(case_id=1, user_id=2, length=10_000_001, metadata={})
    assert err.value.status == 413
    with pytest.raises(UploadError) as err:
        store.create(case_id=1, user_id=2, length=0, metadata={})
    assert "empty" in err.value.message
    info = store.create(case_id=1, user_id=2, length=10, metadata={})
    with pytest.raises(UploadError) as err:
        store.append(info.id, offset=0, chunks=[b"12345678", b"9abc"])
    assert err.value.status == 413
    assert store.get(info.id).offset == 8  # the valid prefix stays; the client resumes from it


def test_interrupted_body_keeps_a_valid_prefix_and_hash_survives_a_restart(store: UploadStore) -> None:
    data = os.urandom(300_000)
    info = store.create(case_id=1, user_id=2, length=len(data), metadata={})

    def dropped() -> Iterator[bytes]:
        yield data[:100_000]
        yield data[100_000:150_000]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.append(info.id, offset=0, chunks=dropped())
    assert store.get(info.id).offset == 150_000
    uploads._hashers.clear()  # as after a server restart: the running hash state is gone
    info = store.append(info.id, offset=150_000, chunks=[data[150_000:]])
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_terminate_and_expiry_remove_everything(store: UploadStore, tmp_path: Path) -> None:
    a = store.create(case_id=1, user_id=2, length=10, metadata={})
    store.terminate(a.id)
    assert not (store.root / a.id).exists()
    with pytest.raises(UploadError) as err:
        store.get(a.id)
    assert err.value.status == 404
    short = UploadStore(store.root, max_bytes=100, expiry_s=0)
    b = short.create(case_id=1, user_id=2, length=10, metadata={})
    time.sleep(0.01)
    with pytest.raises(UploadError) as err:
        short.get(b.id)
    assert err.value.status == 410
    assert short.expire() == 1
    assert list(store.root.iterdir()) == []


def test_ids_are_not_paths(store: UploadStore) -> None:
    with pytest.raises(UploadError) as err:
        store.get("../../etc")
    assert err.value.status == 404


def test_parse_metadata() -> None:
    name = base64.b64encode("caméra 1.avi".encode()).decode()
    assert parse_metadata(f"filename {name},is_confidential") == {
        "filename": "caméra 1.avi",
        "is_confidential": "",
    }
    with pytest.raises(UploadError):
        parse_metadata("filename ***")
