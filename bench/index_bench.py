"""Vector index benchmark: exact (IndexFlatIP) vs the approximate kinds, at 10k, 100k and 1M vectors.

    python bench/index_bench.py [--sizes 10000 100000 1000000] [--queries 200] [--hnsw-max 100000]
                                [--nprobe 32 128] [--refine 10] [--threads 1]

Vectors have the real dimension (512, OSNet x0.25) and a realistic spread: they are drawn from a Gaussian
fitted to real OSNet vectors of PETS09-S2L1 ground-truth crops (mean and covariance, 1% shrinkage), three
snapshots per synthetic person with the real within-identity scatter, then L2-normalised. Queries are new
snapshots of indexed people. Without the shared data (SIGHTLINE_SHARED_DIR) it falls back to isotropic
clusters and says so. 1M real footage vectors do not exist here, hence the fitted distribution.

For each size: build time, latency per query (a batch of queries, and single queries), recall@10 against
exact search on the same vectors, and memory per vector:
  exact   reid_core.index.VectorIndex below its limit (IndexFlatIP; also keeps the float16 copy);
  ivfpq   reid_core.index.VectorIndex above its limit (IVF-PQ, 64 bytes codes, re-scored from float16);
  hnsw    plain faiss IndexHNSWFlat (M=32, efSearch 64), for comparison; build is slow, so --hnsw-max.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import faiss
import numpy as np

from reid_core.embed import ReidEmbedder, crop
from reid_core.index import VectorIndex, VectorKey
from reid_core.models import resolve

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
DIM = 512
PER_PERSON = 3


def real_osnet_vectors(every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """OSNet vectors of PETS ground-truth crops (every Nth frame) and their identity labels."""
    data = SHARED / "data" / "pets09_s2l1"
    rows: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for line in (data / "gt.txt").read_text().splitlines():
        f = line.split(",")
        box = (float(f[2]), float(f[3]), float(f[4]), float(f[5]))
        rows.setdefault(int(f[0]) - 1, []).append((int(f[1]), box))
    embedder = ReidEmbedder(resolve("osnet_x0_25_msmt17", dirs=[SHARED / "models"]))
    cap = cv2.VideoCapture(str(data / "vtest.avi"))
    crops, labels, index = [], [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % every == 0:
            for pid, box in rows.get(index, []):
                crops.append(crop(frame, box))
                labels.append(pid)
        index += 1
    return embedder.embed(crops), np.array(labels)


class Generator:
    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        try:
            real, labels = real_osnet_vectors()
        except Exception as exc:  # no shared data or models: say so and use isotropic clusters
            print(f"# real OSNet vectors unavailable ({exc}); using isotropic clusters")
            self.mean = np.zeros(DIM, np.float32)
            self.chol_total = np.eye(DIM, dtype=np.float32) / np.sqrt(DIM)
            self.chol_within = self.chol_total * 0.6
            self.source = "isotropic clusters"
            return
        means = {p: real[labels == p].mean(axis=0) for p in np.unique(labels)}
        within = real - np.stack([means[p] for p in labels])
        self.mean = real.mean(axis=0)
        self.chol_total = self._chol(np.cov(real, rowvar=False))
        self.chol_within = self._chol(np.cov(within, rowvar=False))
        self.source = f"Gaussian fitted to {len(real)} OSNet vectors of PETS crops ({len(means)} ids)"

    @staticmethod
    def _chol(cov: np.ndarray) -> np.ndarray:
        shrunk = 0.99 * cov + 0.01 * np.trace(cov) / len(cov) * np.eye(len(cov))
        return np.linalg.cholesky(shrunk).astype(np.float32)

    def _normal(self, n: int, chol: np.ndarray) -> np.ndarray:
        return self.rng.standard_normal((n, DIM), dtype=np.float32) @ chol.T

    def people(self, n_people: int) -> np.ndarray:
        return self.mean + self._normal(n_people, self.chol_total)

    def snapshots(self, centres: np.ndarray, per: int) -> np.ndarray:
        out = np.empty((len(centres) * per, DIM), np.float32)
        for i in range(0, len(centres), 50_000):
            c = np.repeat(centres[i : i + 50_000], per, axis=0)
            v = c + self._normal(len(c), self.chol_within)
            out[i * per : i * per + len(v)] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def timed_search(fn: Callable[[np.ndarray, int], object], queries: np.ndarray, k: int) -> tuple[float, float]:
    """(ms per query in one batch, median ms for single queries), after a warm-up of both paths."""
    fn(queries[:20], k)  # Faiss switches to BLAS from 20 queries: start its thread pool first
    fn(queries[:1], k)
    t0 = time.perf_counter()
    fn(queries, k)
    batch_ms = (time.perf_counter() - t0) * 1000 / len(queries)
    singles = []
    for q in queries[:30]:
        t0 = time.perf_counter()
        fn(q[None], k)
        singles.append((time.perf_counter() - t0) * 1000)
    return batch_ms, statistics.median(singles)


def recall_at(found: list[list[int]], truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="largest size to build HNSW at")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[32, 128], help="IVF lists scanned")
    ap.add_argument("--refine", type=int, nargs="+", default=[10], help="candidates re-scored per hit")
    ap.add_argument("--threads", type=int, default=1, help="Faiss OpenMP threads (1: see docs/index.md)")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    gen = Generator()
    print(
        f"# index bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} cores"
        f" (shared with other work), faiss {faiss.__version__}, {args.threads} threads"
    )
    print(
        f"# vectors: dim {DIM}, {PER_PERSON} snapshots a person, {gen.source}; {args.queries} queries, k=10"
    )
    print(
        "| vectors | index | build s | ms/query (batch) | ms/query (single) | recall@10 vs exact "
        "| bytes/vector | speed-up vs exact (batch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    k = 10
    for n in args.sizes:
        people = gen.people(n // PER_PERSON + 1)
        data = gen.snapshots(people, PER_PERSON)[:n]
        pick = gen.rng.choice(len(people), size=args.queries, replace=False)
        queries = gen.snapshots(people[pick], 1)
        keys = [VectorKey("v", i // PER_PERSON, i % PER_PERSON) for i in range(n)]
        row = {key: i for i, key in enumerate(keys)}

        def ids(result: list[list[tuple[VectorKey, float]]]) -> list[list[int]]:
            return [[row[key] for key, _ in hits] for hits in result]  # noqa: B023 (used at once)

        t0 = time.perf_counter()
        exact = VectorIndex(DIM, exact_limit=n)
        exact.add(keys, data)
        build = time.perf_counter() - t0
        assert exact.kind == "exact"
        truth = np.array(ids(exact.search(queries, k)))
        e_batch, e_single = timed_search(exact.search, queries, k)
        e_mem = exact.memory_bytes() / n
        print(
            f"| {n:,} | exact (IndexFlatIP) | {build:.1f} | {e_batch:.3f} | {e_single:.3f} | 1.000 "
            f"| {e_mem:,.0f} | 1.0x |",
            flush=True,
        )
        del exact
        gc.collect()

        t0 = time.perf_counter()
        approx = VectorIndex(DIM, exact_limit=0)
        approx.add(keys, data)
        build = time.perf_counter() - t0
        for nprobe in args.nprobe:
            for refine in args.refine:
                approx.nprobe, approx.refine = nprobe, refine
                a_batch, a_single = timed_search(approx.search, queries, k)
                rec = recall_at(ids(approx.search(queries, k)), truth, k)
                print(
                    f"| {n:,} | {approx.kind} (nprobe {nprobe}, re-score x{refine}) | {build:.1f} "
                    f"| {a_batch:.3f} | {a_single:.3f} | {rec:.3f} | {approx.memory_bytes() / n:,.0f} "
                    f"| {e_batch / a_batch:.1f}x |",
                    flush=True,
                )
        del approx
        gc.collect()

        if n <= args.hnsw_max:
            t0 = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 40
            hnsw.add(data)
            hnsw.hnsw.efSearch = 64
            build = time.perf_counter() - t0

            def hnsw_search(q: np.ndarray, kk: int) -> np.ndarray:
                return hnsw.search(q, kk)[1]  # noqa: B023 (used at once)

            h_batch, h_single = timed_search(hnsw_search, queries, k)
            rec = recall_at(hnsw_search(queries, k).tolist(), truth, k)
            mem = faiss.serialize_index(hnsw).nbytes / n
            print(
                f"| {n:,} | hnsw (M 32, efSearch 64; no removal) | {build:.1f} | {h_batch:.3f} "
                f"| {h_single:.3f} | {rec:.3f} | {mem:,.0f} | {e_batch / h_batch:.1f}x |",
                flush=True,
            )
            del hnsw
        del data, people
        gc.collect()


if __name__ == "__main__":
    main()
