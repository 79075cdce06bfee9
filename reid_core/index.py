"""Vector index from snapshot vectors to (video, track, snapshot), on Faiss.

Exact inner-product search (IndexFlatIP) up to ``exact_limit`` vectors; above it an IVF-PQ index whose
candidates are re-scored with the stored vectors (measured in bench/index_bench.py: at 100k and 1M vectors it
keeps recall@10 high at a fraction of the exact index's latency and memory; HNSW has no removal, so removing
a video would mean rebuilding the graph). The kind in use is reported by ``kind``.

Every vector is also kept as float16 (1 KB per 512-d vector): it serves ``vectors()`` (query expansion,
re-ranking), the IVF-PQ re-scoring and rebuilds when the index switches kind.

On disk a saved index is a directory holding numbered versions and a CURRENT file naming the complete one.
A save writes a new version (every file fsynced), then replaces CURRENT atomically; a crash at any moment
leaves CURRENT naming a complete version. The previous version is kept for readers that opened it.
The Faiss wrapper and its on-disk format stay together in this module for the same reason as the catalog's.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from reid_core.durable import fsync_path, write_synced
from reid_core.types import ReidError

FORMAT = 1
CURRENT = "CURRENT"
Kind = Literal["exact", "ivfpq"]
_ARRAYS = ("ids", "video_codes", "track_ids", "snapshots", "vectors")
_KEY_DTYPE = np.dtype([("video", np.int64), ("track", np.int64), ("snapshot", np.int64)])


class VectorIndexError(ReidError):
    """A saved index is missing, incomplete or from another format; the message names the directory."""


@dataclass(frozen=True)
class VectorKey:
    video: str
    track_id: int
    snapshot: int


def _save_array(path: Path, array: npt.NDArray[Any]) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def _pq_subquantizers(dim: int) -> int:
    """Up to 64 sub-quantizers of 8 bits (64 bytes a vector), each over at least 4 dimensions when possible.

    Training time grows with the count (about 28 s for 64 on 10k vectors on one busy core), so small
    dimensions get fewer.
    """
    return next((m for m in (64, 48, 32, 24, 16, 12, 8, 4, 2) if dim % m == 0 and dim // m >= 4), 1)


class VectorIndex:
    def __init__(
        self,
        dim: int,
        *,
        exact_limit: int = 100_000,
        nprobe: int = 128,
        refine: int = 10,
        threads: int | None = None,
    ) -> None:
        if dim <= 0:
            raise ValueError(f"dimension must be positive, got {dim}")
        self.dim = dim
        self.exact_limit = exact_limit
        # IVF lists scanned, and IVF-PQ candidates per wanted hit re-scored from the stored vectors. Measured
        # (bench/index_bench.py, docs/index.md): 128 and 10 keep recall@10 near 0.93 at 1M, 0.99 at 100k.
        self.nprobe = nprobe
        self.refine = refine
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self._ids = np.zeros(0, np.int64)  # stable ids given to Faiss, increasing with insertion order
        self._video_codes = np.zeros(0, np.int32)
        self._track_ids = np.zeros(0, np.int64)
        self._snapshots = np.zeros(0, np.int32)
        self._vectors = np.zeros((0, dim), np.float16)
        self._videos: list[str] = []
        self._codes: dict[str, int] = {}
        self._next_id = 0
        self._trained_on = 0
        self.kind: Kind = "exact"
        self._index: Any = self._new_exact()

    # ------------------------------------------------------------ building

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def _new_exact(self) -> Any:
        return faiss.IndexIDMap(faiss.IndexFlatIP(self.dim))

    def _new_ivfpq(self, n: int) -> Any:
        nlist = int(min(4096, max(64, math.sqrt(n))))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(
            quantizer, self.dim, nlist, _pq_subquantizers(self.dim), 8, faiss.METRIC_INNER_PRODUCT
        )
        # k-means wants ~40+ points per centroid (coarse lists, and 256 codes per PQ sub-quantizer);
        # a subsample of that size trains well and keeps training fast on 2 cores.
        rng = np.random.default_rng(0)
        sample = rng.choice(n, size=min(n, max(64 * nlist, 40 * 256)), replace=False)
        # One OpenMP thread: PQ training is many tiny k-means runs whose thread barriers dominate; measured
        # 6.9 s with 1 thread vs 37.5 s with 2 on 20k x 512 on the busy 2-core machine.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            index.train(self._vectors[np.sort(sample)].astype(np.float32))
        finally:
            faiss.omp_set_num_threads(threads)
        return index

    def _rebuild(self, kind: Kind) -> None:
        self._index = self._new_exact() if kind == "exact" else self._new_ivfpq(len(self))
        self.kind = kind
        self._trained_on = len(self) if kind == "ivfpq" else 0
        self._add_to_faiss(0, len(self))

    def _add_to_faiss(self, start: int, stop: int) -> None:
        for i in range(start, stop, 65536):
            j = min(stop, i + 65536)
            self._index.add_with_ids(self._vectors[i:j].astype(np.float32), self._ids[i:j])

    def _check_vectors(self, vectors: npt.ArrayLike, what: str) -> npt.NDArray[np.float32]:
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim == 1:
            v = v[None]
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValueError(f"{what} must have shape (n, {self.dim}), got {np.shape(vectors)}")
        if not np.isfinite(v).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        norms = np.linalg.norm(v, axis=1)
        if len(v) and np.abs(norms - 1).max() > 1e-3:
            raise ValueError(
                f"{what} must be L2-normalised (norms from {norms.min():.3f} to {norms.max():.3f})"
            )
        return np.ascontiguousarray(v)

    def add(self, keys: Sequence[VectorKey], vectors: npt.ArrayLike) -> None:
        """Add L2-normalised vectors (n, dim). Keys are not deduplicated: remove a video to replace it."""
        v = self._check_vectors(vectors, "vectors")
        if len(keys) != len(v):
            raise ValueError(f"{len(keys)} keys for {len(v)} vectors")
        if not len(v):
            return
        codes = np.array([self._code(k.video) for k in keys], np.int32)
        start = len(self)
        self._ids = np.concatenate(
            [self._ids, np.arange(self._next_id, self._next_id + len(v), dtype=np.int64)]
        )
        self._next_id += len(v)
        self._video_codes = np.concatenate([self._video_codes, codes])
        self._track_ids = np.concatenate([self._track_ids, np.array([k.track_id for k in keys], np.int64)])
        self._snapshots = np.concatenate([self._snapshots, np.array([k.snapshot for k in keys], np.int32)])
        self._vectors = np.concatenate([self._vectors, v.astype(np.float16)])
        if self.kind == "exact" and len(self) > self.exact_limit:
            self._rebuild("ivfpq")
        elif self.kind == "ivfpq" and len(self) > 8 * self._trained_on:
            self._rebuild("ivfpq")  # the coarse lists were trained on far fewer vectors: retrain
        else:
            self._add_to_faiss(start, len(self))

    def _code(self, video: str) -> int:
        if not isinstance(video, str) or not video:
            raise ValueError(f"video must be a non-empty string, got {video!r}")
        if video not in self._codes:
            self._codes[video] = len(self._videos)
            self._videos.append(video)
        return self._codes[video]

    def remove_video(self, video: str) -> int:
        """Remove every vector of the video; returns how many were removed (0 for an unknown video)."""
        code = self._codes.get(video)
        if code is None:
            return 0
        gone = self._video_codes == code
        count = int(gone.sum())
        if count:
            self._index.remove_ids(self._ids[gone])
            keep = ~gone
            self._ids, self._video_codes = self._ids[keep], self._video_codes[keep]
            self._track_ids, self._snapshots = self._track_ids[keep], self._snapshots[keep]
            self._vectors = self._vectors[keep]
            if self.kind == "ivfpq" and len(self) <= self.exact_limit // 2:
                self._rebuild("exact")  # hysteresis: no flapping around the limit
        return count

    # ------------------------------------------------------------ reading

    def videos(self) -> set[str]:
        return {self._videos[c] for c in np.unique(self._video_codes)}

    def _key(self, row: int) -> VectorKey:
        return VectorKey(
            self._videos[int(self._video_codes[row])], int(self._track_ids[row]), int(self._snapshots[row])
        )

    def search(self, queries: npt.ArrayLike, k: int) -> list[list[tuple[VectorKey, float]]]:
        """Top k keys per query by inner product (cosine for normalised vectors), best first."""
        q = self._check_vectors(queries, "queries")
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if len(self) == 0:
            return [[] for _ in range(len(q))]
        k_eff = min(k, len(self))
        if self.kind == "exact":
            scores, ids = self._index.search(q, k_eff)
            rows = np.searchsorted(self._ids, ids)
            return [
                [(self._key(int(r)), float(s)) for r, s, i in zip(rr, ss, ii, strict=True) if i >= 0]
                for rr, ss, ii in zip(rows, scores, ids, strict=True)
            ]
        self._index.nprobe = self.nprobe  # a plain attribute, so callers may trade speed for recall
        _, ids = self._index.search(q, min(len(self), k_eff * self.refine))
        out = []
        for qi, cand in enumerate(ids):
            rows = np.searchsorted(self._ids, cand[cand >= 0])
            exact = self._vectors[rows].astype(np.float32) @ q[qi]
            order = np.argsort(-exact)[:k_eff]
            out.append([(self._key(int(rows[o])), float(exact[o])) for o in order])
        return out

    def vectors(self, keys: Sequence[VectorKey]) -> npt.NDArray[np.float32]:
        """The stored vectors of these keys (float16 precision), in order; unknown keys raise KeyError."""
        # One sorted pass over the rows of the videos asked about, then a binary search per key: a search
        # asks for every snapshot of its candidate tracks, and a scan per key grew with the whole index.
        wanted = np.array(
            [(self._codes.get(k.video, -1), k.track_id, k.snapshot) for k in keys], dtype=_KEY_DTYPE
        )
        rows = np.flatnonzero(np.isin(self._video_codes, wanted["video"]))
        stored = np.empty(len(rows), dtype=_KEY_DTYPE)
        stored["video"], stored["track"] = self._video_codes[rows], self._track_ids[rows]
        stored["snapshot"] = self._snapshots[rows]
        order = np.argsort(stored, kind="stable")
        at = np.searchsorted(stored[order], wanted)
        found = at < len(order)
        found[found] = stored[order[at[found]]] == wanted[found]
        if not found.all():
            raise KeyError(f"{keys[int(np.flatnonzero(~found)[0])]} is not in the index")
        return np.asarray(self._vectors[rows[order[at]]], dtype=np.float32)

    def memory_bytes(self) -> int:
        """Bytes held: the Faiss index plus the stored float16 vectors and keys."""
        if self.kind == "exact":  # float32 vectors + int64 ids; serialising would copy them all
            faiss_bytes = int(self._index.ntotal) * (4 * self.dim + 8)
        else:
            faiss_bytes = int(faiss.serialize_index(self._index).nbytes)
        arrays = sum(int(getattr(self, f"_{a}").nbytes) for a in _ARRAYS)
        return faiss_bytes + arrays

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        """Atomic: a new version is written and fsynced, then CURRENT replaced (see the module docstring)."""
        directory = Path(directory)
        if not directory.exists():
            # First save: build everything beside it, then one rename makes it appear complete.
            directory.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
            try:
                self._write_version(tmp, "v000001")
                write_synced(tmp / CURRENT, b"v000001\n")
                fsync_path(tmp)
                os.rename(tmp, directory)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            fsync_path(directory.parent)
            return
        current = _read_current(directory)
        number = int(current[1:]) + 1 if current else 1
        version = f"v{number:06d}"
        staging = directory / f".{version}.tmp"
        for leftover in (staging, directory / version):  # from a save that crashed before CURRENT moved
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            self._write_version(directory, version, staging=staging)
            pointer = directory / f".{CURRENT}.tmp"
            write_synced(pointer, f"{version}\n".encode())
            os.replace(pointer, directory / CURRENT)
            fsync_path(directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # Keep the new and the previous version (a reader may still be opening it); drop older and leftovers.
        for entry in directory.iterdir():
            if entry.is_dir() and entry.name not in (version, current):
                shutil.rmtree(entry, ignore_errors=True)

    def _write_version(self, directory: Path, version: str, staging: Path | None = None) -> None:
        work = staging or directory / version
        work.mkdir(parents=True)
        for name in _ARRAYS:
            _save_array(work / f"{name}.npy", getattr(self, f"_{name}"))
        write_synced(work / "faiss.index", faiss.serialize_index(self._index).tobytes())
        meta = {
            "format": FORMAT,
            "dim": self.dim,
            "kind": self.kind,
            "count": len(self),
            "exact_limit": self.exact_limit,
            "nprobe": self.nprobe,
            "refine": self.refine,
            "next_id": self._next_id,
            "trained_on": self._trained_on,
            "videos": self._videos,
        }
        write_synced(work / "meta.json", json.dumps(meta).encode())
        fsync_path(work)
        if staging is not None:
            os.rename(staging, directory / version)
            fsync_path(directory)

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        directory = Path(directory)
        for attempt in range(3):
            version = _read_current(directory)
            if version is None:
                raise VectorIndexError(f"{directory} holds no saved vector index (no {CURRENT} file)")
            try:
                return cls._load_version(directory / version)
            except FileNotFoundError:
                if attempt == 2:
                    raise
                # A writer replaced CURRENT and pruned the version between our reads: read CURRENT again.
        raise AssertionError("unreachable")

    @classmethod
    def _load_version(cls, path: Path) -> VectorIndex:
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise VectorIndexError(f"{path}: meta.json is damaged ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise VectorIndexError(f"{path}: index format {meta.get('format')} is not supported ({FORMAT})")
        index = cls(
            int(meta["dim"]), exact_limit=meta["exact_limit"], nprobe=meta["nprobe"], refine=meta["refine"]
        )
        try:
            for name in _ARRAYS:
                setattr(index, f"_{name}", np.load(path / f"{name}.npy", allow_pickle=False))
            blob = np.frombuffer((path / "faiss.index").read_bytes(), dtype=np.uint8)
            index._index = faiss.deserialize_index(blob)
        except ValueError as exc:
            raise VectorIndexError(f"{path}: damaged index file ({exc})") from exc
        index.kind = meta["kind"]
        index._next_id = int(meta["next_id"])
        index._trained_on = int(meta["trained_on"])
        index._videos = list(meta["videos"])
        index._codes = {v: i for i, v in enumerate(index._videos)}
        n = int(meta["count"])
        sizes = {len(getattr(index, f"_{a}")) for a in _ARRAYS} | {int(index._index.ntotal)}
        if sizes != {n} or index._vectors.shape[1:] != (index.dim,):
            raise VectorIndexError(f"{path}: index files disagree on the number of vectors ({sorted(sizes)})")
        return index


def saved_version(directory: Path) -> str | None:
    """The version a saved index's readers get now (None where nothing was saved): it changes with every
    save, so whatever was derived from the vectors (an adaptation, a cache) can tell it is stale."""
    return _read_current(Path(directory))


def _read_current(directory: Path) -> str | None:
    try:
        text = (directory / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not (text.startswith("v") and text[1:].isdigit()):
        raise VectorIndexError(f"{directory / CURRENT} is damaged ({text[:40]!r})")
    return text
