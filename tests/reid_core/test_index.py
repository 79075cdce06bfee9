"""Faiss vector index: add, search, remove, the automatic exact/approximate switch, atomic save and load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import reid_core.index as index_module
from reid_core.index import CURRENT, VectorIndex, VectorIndexError, VectorKey

DIM = 128


def unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def clustered(n_people: int, per: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Snapshots of the same person lie near one centre, as ReID vectors do."""
    centres = unit(n_people, dim, seed)
    noise = np.random.default_rng(seed + 1).normal(scale=0.6 / np.sqrt(dim), size=(n_people, per, dim))
    v = (centres[:, None, :] + noise).reshape(-1, dim).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def keys_for(video: str, n: int, per: int = 3) -> list[VectorKey]:
    return [VectorKey(video, i // per, i % per) for i in range(n)]


def test_add_search_remove_exact() -> None:
    idx = VectorIndex(DIM)
    a, b = unit(30, seed=1), unit(12, seed=2)
    idx.add(keys_for("a", 30), a)
    idx.add(keys_for("b", 12), b)
    assert len(idx) == 42 and idx.kind == "exact" and idx.videos() == {"a", "b"}
    hits = idx.search(b[4], k=5)[0]
    assert hits[0][0] == VectorKey("b", 1, 1) and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and len(hits) == 5
    assert len(idx.search(a[:3], k=100)) == 3 and len(idx.search(a[:1], k=100)[0]) == 42
    assert np.allclose(idx.vectors([VectorKey("a", 2, 0)])[0], a[6], atol=2e-3)
    with pytest.raises(KeyError, match="not in the index"):
        idx.vectors([VectorKey("a", 99, 0)])
    assert idx.remove_video("a") == 30 and idx.remove_video("a") == 0 and idx.remove_video("zzz") == 0
    assert len(idx) == 12 and idx.videos() == {"b"}
    assert {k.video for k, _ in idx.search(a[0], k=50)[0]} == {"b"}
    assert idx.search(b[0], k=1)[0][0][0] == VectorKey("b", 0, 0)  # ids still map to the right keys
    assert VectorIndex(DIM).search(a[:2], k=3) == [[], []]


def test_bad_input_is_a_clear_error() -> None:
    idx = VectorIndex(DIM)
    with pytest.raises(ValueError, match=r"shape \(n, 128\)"):
        idx.add(keys_for("a", 2), unit(2, dim=64))
    with pytest.raises(ValueError, match="L2-normalised"):
        idx.add(keys_for("a", 2), unit(2) * 3)
    bad = unit(2)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        idx.add(keys_for("a", 2), bad)
    with pytest.raises(ValueError, match="3 keys for 2 vectors"):
        idx.add(keys_for("a", 3), unit(2))
    with pytest.raises(ValueError, match="video must be a non-empty string"):
        idx.add([VectorKey("", 0, 0)], unit(1))
    with pytest.raises(ValueError, match="k must be positive"):
        idx.search(unit(1), k=0)
    assert len(idx) == 0  # nothing half-added


def test_switches_to_ivfpq_above_the_limit_and_back() -> None:
    dim = 64  # PQ training time grows with the dimension; the bench measures 512
    data = clustered(4000, 3, dim=dim)  # 12000 snapshots of 4000 people
    keys = keys_for("a", 3000) + keys_for("b", 9000)
    idx = VectorIndex(dim, exact_limit=6000, threads=1)  # OpenMP spins badly on a busy 2-core machine
    idx.add(keys[:3000], data[:3000])
    assert idx.kind == "exact"
    idx.add(keys[3000:], data[3000:])
    assert idx.kind == "ivfpq" and len(idx) == 12000
    queries = clustered(4000, 1, dim=dim, seed=0)[::20]  # new photos of 200 indexed people
    exact = queries @ data.T
    truth = np.argsort(-exact, axis=1)
    got = idx.search(queries, k=10)
    row = {k: i for i, k in enumerate(keys)}
    found = [[row[k] for k, _ in g] for g in got]
    recall10 = np.mean([len(set(f) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)])
    same_person = np.mean([len(set(f[:3]) & set(t[:3])) / 3 for f, t in zip(found, truth, strict=True)])
    assert recall10 >= 0.75 and same_person >= 0.95, (recall10, same_person)
    # Scores are the exact similarities re-scored from the stored float16 vectors.
    assert abs(got[0][0][1] - exact[0, truth[0, 0]]) < 2e-3
    assert idx.remove_video("b") == 9000 and idx.kind == "exact"  # 3000 left: at most half the limit
    assert idx.search(queries[:1], k=1)[0][0][0] == VectorKey("a", 0, 0)


def test_save_load_roundtrip_both_kinds(tmp_path: Path) -> None:
    for limit in (100_000, 1000):
        idx = VectorIndex(DIM, exact_limit=limit, threads=1)
        idx.add(keys_for("cam 1", 1500), clustered(500, 3))
        idx.remove_video("nothing")
        target = tmp_path / f"idx{limit}"
        idx.save(target)
        loaded = VectorIndex.load(target)
        assert (loaded.kind, len(loaded), loaded.videos()) == (idx.kind, 1500, {"cam 1"})
        q = clustered(500, 1)[:20]
        assert loaded.search(q, k=5) == idx.search(q, k=5)
        # A second save keeps the previous version for readers and moves CURRENT.
        loaded.add(keys_for("cam 2", 3), unit(3))
        loaded.save(target)
        assert (target / CURRENT).read_text().strip() == "v000002"
        assert sorted(p.name for p in target.iterdir()) == [CURRENT, "v000001", "v000002"]
        loaded.save(target)
        assert sorted(p.name for p in target.iterdir()) == [CURRENT, "v000002", "v000003"]
        assert len(VectorIndex.load(target)) == 1503


def test_exception_mid_save_keeps_the_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "idx"
    old = VectorIndex(DIM)
    old.add(keys_for("a", 10), unit(10))
    real_save = index_module._save_array
    calls = {"n": 0}

    def failing(path: Path, array: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_save(path, array)

    monkeypatch.setattr(index_module, "_save_array", failing)
    with pytest.raises(OSError, match="No space left"):
        old.save(target)  # first save fails: nothing appears, nothing left beside it
    assert not target.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(index_module, "_save_array", real_save)
    old.save(target)
    new = VectorIndex.load(target)
    new.add(keys_for("b", 5), unit(5, seed=9))
    calls["n"] = 0
    monkeypatch.setattr(index_module, "_save_array", failing)
    with pytest.raises(OSError):
        new.save(target)
    back = VectorIndex.load(target)
    assert len(back) == 10 and back.videos() == {"a"}
    assert sorted(p.name for p in target.iterdir()) == [CURRENT, "v000001"]


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from reid_core.index import VectorIndex, VectorKey
    target, n = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n + 1, 512)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    indexes = []
    for size in (n, n + 1):
        idx = VectorIndex(512)
        idx.add([VectorKey("v", i, 0) for i in range(size)], v[:size])
        indexes.append(idx)
    i = 0
    while True:
        indexes[i % 2].save(target)
        i += 1
        print(i, flush=True)
    """
)


def test_killed_mid_save_leaves_a_loadable_index(tmp_path: Path) -> None:
    """A real crash: SIGKILL a process that keeps saving, at several moments; the index always loads."""
    target = tmp_path / "idx"
    n = 20_000  # about 60 MB a save, so a kill lands inside a save
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    interrupted = 0
    for delay in (0.05, 0.4, 0.9):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target), str(n)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # one save finished
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted += any(p.name.endswith(".tmp") for p in target.iterdir())
        loaded = VectorIndex.load(target)
        assert len(loaded) in (n, n + 1)
        assert loaded.search(loaded.vectors([VectorKey("v", 7, 0)]), k=1)[0][0][0] == VectorKey("v", 7, 0)
    assert interrupted >= 1, "no kill landed inside a save: the test proved nothing"
    loaded.save(target)  # the next save clears what the crashes left
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


def test_damaged_or_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VectorIndexError, match="no saved vector index"):
        VectorIndex.load(tmp_path)
    idx = VectorIndex(DIM)
    idx.add(keys_for("a", 4), unit(4))
    idx.save(tmp_path / "i")
    (tmp_path / "i" / "v000001" / "ids.npy").write_bytes(b"garbage")
    with pytest.raises(VectorIndexError, match="damaged"):
        VectorIndex.load(tmp_path / "i")
    (tmp_path / "i" / CURRENT).write_text("../../etc")
    with pytest.raises(VectorIndexError, match="CURRENT is damaged"):
        VectorIndex.load(tmp_path / "i")
