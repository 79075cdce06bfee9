"""Time from dropping a photo to the first result, on a case holding the equivalent of 10 hours of footage.

    python bench/search_bench.py [--hours 10] [--queries 40]
    python bench/search_bench.py --cli [--hours 10] [--repeat 3]     # `reid` folder, catalog formats 1 and 2

Needs PostgreSQL and Redis (as the tests do). It creates its own database (sightline_search_bench, dropped at
the end), uses Redis DB 7 and a temporary media root, so it never touches the app's data.

The case: the real PETS 2009 S2L1 clip (80 s) analysed by the real engine and stored by the footage app,
plus SYNTHETIC videos up to --hours of footage: copies of the PETS tracks (same per-frame boxes, so the
catalog and the database hold as much as real footage of that length would) whose snapshot vectors are
random unit vectors. Only the index part is synthetic: rows, catalog and index have real sizes.

Drop to first result, as the page does it: POST the photo to daphne (the web process checks it with Pillow and
queues the job), a real Celery worker (engine preloaded, as in production) finds the person in the photo,
embeds it and ranks the case, the "done" event arrives over the case websocket, the page GETs the results
document. Query photos are crops of different PETS people (reid_core's evaluation query crops), in turn.

The first query after the index changed also loads the vectors and the snapshot rows (the worker then keeps
them until the index changes): reported apart as "cold". Baseline, same run, in this process: the search step
(detect + embed + rank) loading the index and its catalog for every query, as `reid search` does,
against the worker's path (webapp/search/case_index.py). Numbers vary by +-30% on a shared machine.

--cli needs neither PostgreSQL nor Redis: it builds the same footage as a `reid index` folder (vectors/ and
the catalog), once with the catalog in format 2 (a manifest and one file per video) and once in format 1
(one catalog.json, written as the previous version wrote it), and measures in the same run, old against new:
the catalog's size on disk; `reid search --json` as a user runs it (a new process: imports, models, index,
catalog, detect + embed + rank), checking both print the same bytes; opening the catalog and ranking
(in-process, the index already loaded); adding one video to the folder and removing it again (catalog
part; the vector index's own save, the same for both, is timed apart).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "webapp" / "search"))
sys.path.insert(0, str(REPO / "bench"))
from bench_db import create_database, drop_database  # noqa: E402

BENCH_DB = "sightline_search_bench"


def configure(media_root: Path) -> dict[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline")
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": base.rsplit("/", 1)[0] + f"/{BENCH_DB}",
        "SIGHTLINE_TEST_REDIS_DB": "7",
        "SIGHTLINE_MEDIA_ROOT": str(media_root),
        "PYTHONUNBUFFERED": "1",
    }
    import search_pets

    dirs = search_pets.models_dirs()
    if dirs and "REID_MODELS_DIRS" not in os.environ:
        env["REID_MODELS_DIRS"] = os.pathsep.join(str(d) for d in dirs)
    os.environ.update(env)
    return {**os.environ}


def add_synthetic_footage(case: Any, pets: Any, hours: float, seed: int = 0) -> tuple[int, int, int]:
    """Videos copying the PETS tracks with random snapshot vectors, up to `hours` of footage in the case."""
    import numpy as np
    from django.db import transaction

    from reid_core import index_folder
    from reid_core.pipeline import add_to_index
    from webapp.footage.index_store import index_dir, load_case_index
    from webapp.footage.models import Snapshot, Track, Video, VideoStatus

    ingest = pets.ingest
    copies = max(0, round(hours * 3600 / ingest.duration_s) - 1)
    rng = np.random.default_rng(seed)
    loaded = load_case_index(case.pk)
    assert loaded is not None, "the real PETS video must be indexed first"
    index, catalog = loaded
    for n in range(copies):
        with transaction.atomic():
            video = Video.objects.create(
                case=case,
                original_name=f"synthetic-{n:04d}.avi",
                sha256=f"{n:064x}",
                duration_s=ingest.duration_s,
                fps=7.0,
                width=ingest.width,
                height=ingest.height,
                camera_label=f"Synthetic camera {n % 24}",
                status=VideoStatus.READY,
            )
            Track.objects.bulk_create(
                Track(
                    video=video,
                    track_id=tr.track_id,
                    start_s=tr.start_s,
                    end_s=tr.end_s,
                    start_frame=tr.frames[0].frame,
                    end_frame=tr.frames[-1].frame,
                    best_frame=tr.frames[0].frame,
                    best_t=tr.frames[0].t,
                    best_box=[round(float(v), 1) for v in tr.frames[0].box],
                    boxes=[[f.frame, round(f.t, 3), *(round(float(v), 1) for v in f.box)] for f in tr.frames],
                )
                for tr in ingest.tracks
            )
            tracks = {t.track_id: t for t in Track.objects.filter(video=video)}
            Snapshot.objects.bulk_create(
                Snapshot(
                    track=tracks[s.track_id],
                    ordinal=s.snapshot,
                    frame=s.frame,
                    t=s.t,
                    box=[round(float(v), 1) for v in s.box],
                    quality=float(s.quality),
                )
                for s in ingest.snapshots
            )
        vectors = rng.standard_normal((len(ingest.snapshots), index.dim)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        snaps = [dataclasses.replace(s, vector=v) for s, v in zip(ingest.snapshots, vectors, strict=True)]
        add_to_index(index, catalog, dataclasses.replace(ingest, video=str(video.pk), snapshots=snaps))
    directory = index_dir(case.pk)
    index.save(directory / index_folder.VECTORS)  # vectors first: the catalog below lists the videos
    catalog.save(directory)
    tracks = sum(len(r.tracks) for r in catalog.videos.values())
    return copies + 1, tracks, len(index)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def drop_to_first_result(
    base: str, case_id: int, cookie: str, csrf: str, photo: Path, parts: dict[str, list[float]]
) -> tuple[float, int]:
    """POST the photo, wait for the job's done event on the case websocket, GET the results document."""
    import urllib.request
    import uuid

    from websockets.sync.client import connect

    headers = {"Cookie": cookie, "X-CSRFToken": csrf, "Referer": base}
    ws_url = base.replace("http://", "ws://") + f"/ws/cases/{case_id}/"
    with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": base}, open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello.get("type") == "hello", hello
        started = time.perf_counter()
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{photo.name}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + photo.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"{base}/cases/{case_id}/search/",
            data=body,
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            started_doc = json.loads(answer.read())
        posted = time.perf_counter()
        job = started_doc["job"]["job"]
        results_url = started_doc["query"]["urls"]["results"]
        while True:
            event = json.loads(ws.recv(timeout=60))
            if event.get("job") == job and event.get("status") in ("done", "failed", "cancelled"):
                break
        if event["status"] != "done":
            raise RuntimeError(f"search job {job} ended {event['status']}: {event.get('error')}")
        finished = time.perf_counter()
        with urllib.request.urlopen(
            urllib.request.Request(f"{base}{results_url}", headers=headers), timeout=60
        ) as answer:
            doc = json.loads(answer.read())
        elapsed = time.perf_counter() - started
    parts["post (photo check, query + job rows)"].append(posted - started)
    parts["job (queue, worker, search, hits, done event)"].append(finished - posted)
    parts["results document GET"].append(started + elapsed - finished)
    return elapsed, len(doc["hits"])


def search_step(case_id: int, photos: list[Path], cached: bool, engine: Any) -> list[float]:
    from reid_core.video import read_image
    from webapp.footage.index_store import load_case_index
    from webapp.search import case_index

    times = []
    for photo in photos:
        started = time.perf_counter()
        index, catalog = case_index.load(case_id) if cached else load_case_index(case_id)  # type: ignore[misc]
        engine.search(index, catalog, read_image(photo), top_k=100)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--baseline-queries", type=int, default=5)
    parser.add_argument("--cli", action="store_true", help="the `reid` folder only: catalog format 1 vs 2")
    parser.add_argument("--repeat", type=int, default=3, help="--cli: runs of each timing (median)")
    args = parser.parse_args()
    if args.cli:
        return cli_bench(args.hours, args.repeat)

    tmp = Path(tempfile.mkdtemp(prefix="sightline-search-bench-"))
    env = configure(tmp / "media")
    create_database(BENCH_DB)
    import django

    django.setup()
    import search_pets
    from django.core.management import call_command
    from web_ingest_bench import login_cookies, start, stop

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from webapp.cases import services as cases

    owner = User.objects.create_user("bench", password="bench-password-1")
    case = cases.create_case(owner=owner, title="Ten hours", description="search bench")
    processes = []
    try:
        cache = REPO / "var" / "bench-cache" / "search-pets"
        started = time.perf_counter()
        pets = search_pets.pets_ingest(cache)
        search_pets.store_pets(case, pets)
        print(f"PETS clip analysed and stored in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        started = time.perf_counter()
        videos, tracks, vectors = add_synthetic_footage(case, pets, args.hours)
        setup_s = time.perf_counter() - started
        catalog_mb = catalog_bytes(search_pets_index_dir(case.pk)) / 1e6
        print(f"{videos} videos, {tracks} tracks, {vectors} vectors ({setup_s:.0f} s)", file=sys.stderr)

        photos_dir = tmp / "photos"
        photos_dir.mkdir()
        photos = []
        for q in search_pets.gt_queries():
            image = search_pets.frame_image(q.frame)
            photos.append(search_pets.save_crop(image, q.box, photos_dir / f"person-{q.gt_id}.jpg"))

        from webapp.engine import get_engine

        engine = get_engine()
        uncached = search_step(case.pk, photos[: args.baseline_queries], cached=False, engine=engine)
        search_step(case.pk, photos[:1], cached=True, engine=engine)  # fill this process's cache
        cached = search_step(case.pk, photos[: args.baseline_queries], cached=True, engine=engine)

        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        worker_cmd = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "search", "-c", "1"]
        worker_cmd += [
            "-n",
            "searchbench@host",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        processes.append(start(worker_cmd, env, tmp / "worker.log", b"ready"))
        daphne = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "webapp.asgi:application",
        ]
        processes.append(start(daphne, env, tmp / "daphne.log", b"Listening on"))
        base = f"http://127.0.0.1:{port}"
        cookie, csrf = login_cookies(owner)
        parts: dict[str, list[float]] = defaultdict(list)
        cold, hits = drop_to_first_result(base, case.pk, cookie, csrf, photos[0], defaultdict(list))
        warm = []
        for n in range(args.queries):
            elapsed, hits = drop_to_first_result(base, case.pk, cookie, csrf, photos[n % len(photos)], parts)
            warm.append(elapsed)
        print()
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min)")
        print(
            f"search bench on {platform.node()} ({os.cpu_count()} cores, shared with other work), "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        pack = engine.models_info()
        print(
            f"models: {pack.get('pack')} pack ({pack.get('detector')} + {pack.get('embedder')}), "
            f"engine threads {os.environ.get('SIGHTLINE_ENGINE_THREADS', 'default')}"
        )
        print(
            f"case: {args.hours:g} h of footage = 1 real PETS video + {videos - 1} synthetic copies "
            f"(random vectors), {tracks} tracks, {vectors} vectors, catalog {catalog_mb:.0f} MB"
        )
        print(
            f"drop -> first result (HTTP + worker + websocket + results GET), {len(warm)} queries, "
            f"{hits} hits each:"
        )
        print(
            f"  warm  p50 {statistics.median(warm) * 1000:.0f} ms  p95 {percentile(warm, 0.95) * 1000:.0f} ms"
            f"  max {max(warm) * 1000:.0f} ms   (goal p95 < 1000 ms)"
        )
        print(
            f"  cold  {cold * 1000:.0f} ms (first query after an index change: vectors, snapshot rows load)"
        )
        for name, values in parts.items():
            print(f"    {name}: median {statistics.median(values) * 1000:.0f} ms")
        all_runs = [cold, *warm]
        print(f"  p95 including the cold query: {percentile(all_runs, 0.95) * 1000:.0f} ms")
        print(
            "search step in one process (detect + embed + rank), median of "
            f"{len(cached)}: cached {statistics.median(cached) * 1000:.0f} ms, "
            f"index + catalog read per query as `reid search` does (naive) "
            f"{statistics.median(uncached) * 1000:.0f} ms, "
            f"ratio {statistics.median(uncached) / statistics.median(cached):.1f}x"
        )
    finally:
        for process in processes:
            stop(process)
        drop_database(BENCH_DB)
    return 0


def catalog_bytes(directory: Path) -> int:
    """The catalog on disk: catalog.json, plus the per-video files of format 2."""
    from reid_core.catalog import FILENAME, STORE_SUBDIR

    files = [directory / FILENAME, *(p for p in (directory / STORE_SUBDIR).glob("*") if p.is_file())]
    return sum(p.stat().st_size for p in files)


# --- --cli: the `reid` folder, catalog format 1 (one JSON file) against format 2 -----------------------


def cli_pets_ingest(cache_root: Path) -> Any:
    """The PETS clip's VideoIngest and models, cached (key: clip, models, engine code but catalog and CLI)."""
    import hashlib
    import pickle

    import search_pets

    from reid_core.pipeline import Engine

    digest = hashlib.sha256()
    clip = search_pets.pets_clip()
    digest.update(f"{clip.stat().st_size}:{clip.stat().st_mtime_ns}".encode())
    for path in sorted((REPO / "reid_core").rglob("*.py")) + sorted((REPO / "reid_core").rglob("*.toml")):
        if path.name not in ("catalog.py", "cli.py"):
            digest.update(path.read_bytes())
    digest.update(os.pathsep.join(str(p) for p in search_pets.models_dirs()).encode())
    cached = cache_root / f"{digest.hexdigest()[:16]}.pickle"
    if cached.exists():
        with cached.open("rb") as fh:
            return pickle.load(fh)
    engine = Engine.load("auto", dirs=search_pets.models_dirs() or None, threads=2)
    result = (engine.ingest(clip, video="vtest.avi"), engine.models_info())
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / ".ingest.tmp").open("wb") as fh:
        pickle.dump(result, fh)
    os.replace(cache_root / ".ingest.tmp", cached)
    return result


def synthetic_copy(ingest: Any, video: str, dim: int, rng: Any) -> Any:
    """The PETS tracks under another name, with random unit snapshot vectors."""
    import numpy as np

    vectors = rng.standard_normal((len(ingest.snapshots), dim)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    snaps = [dataclasses.replace(s, vector=v) for s, v in zip(ingest.snapshots, vectors, strict=True)]
    return dataclasses.replace(ingest, video=video, snapshots=snaps)


def cli_bench(hours: float, repeat: int) -> int:
    import shutil
    import subprocess

    import numpy as np
    import search_pets

    sys.path.insert(0, str(REPO / "tests" / "reid_core"))
    from catalog_format1 import save_format1

    from reid_core.catalog import Catalog
    from reid_core.index import VectorIndex, VectorKey
    from reid_core.pipeline import add_to_index
    from reid_core.search import rank_moments

    load_before = os.getloadavg()
    ingest, models = cli_pets_ingest(REPO / "var" / "bench-cache" / "search-cli")
    tmp = Path(tempfile.mkdtemp(prefix="sightline-search-cli-bench-"))
    try:
        started = time.perf_counter()
        copies = max(0, round(hours * 3600 / ingest.duration_s) - 1)
        rng = np.random.default_rng(0)
        index, catalog = VectorIndex(int(models["dim"])), Catalog(models=dict(models))
        add_to_index(index, catalog, ingest)
        for n in range(copies):
            add_to_index(index, catalog, synthetic_copy(ingest, f"synthetic-{n:04d}.avi", index.dim, rng))
        new, old = tmp / "format2", tmp / "format1"
        index.save(new / "vectors")
        catalog.save(new)
        shutil.copytree(new / "vectors", old / "vectors")
        save_format1(catalog, old)
        tracks = sum(len(r.tracks) for r in catalog.videos.values())
        frames = sum(len(t.frames) for r in catalog.videos.values() for t in r.tracks.values())
        folders = {"format 1": old, "format 2": new}
        sizes = {name: catalog_bytes(folder) for name, folder in folders.items()}
        print(
            f"{len(catalog.videos)} videos, {tracks} tracks, {frames} track frames, {len(index)} vectors "
            f"({time.perf_counter() - started:.0f} s to build)",
            file=sys.stderr,
        )
        del catalog
        query = search_pets.largest_query()
        photo = search_pets.save_crop(search_pets.frame_image(query.frame), query.box, tmp / "person.jpg")
        reid_search = [sys.executable, "-m", "reid_core.cli", "search"]
        search_opts = ["--top", "10", "--json", "--threads", "2"]
        timings: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in folders}
        outputs: dict[str, set[bytes]] = {name: set() for name in folders}
        index_s: dict[str, list[float]] = defaultdict(list)
        first = ingest.snapshots[0]  # a real PETS snapshot as the query: its person's tracks rank first
        query_vec = index.vectors([VectorKey("vtest.avi", first.track_id, first.snapshot)])[0]

        def timed(name: str, what: str, fn: Any) -> Any:
            began = time.perf_counter()
            out = fn()
            timings[name][what].append(time.perf_counter() - began)
            return out

        for _ in range(repeat):
            for name, folder in folders.items():  # alternate, so both see the same machine load
                done = timed(
                    name,
                    "reid search (new process)",
                    lambda folder=folder: subprocess.run(
                        [*reid_search, "--index", str(folder), "--query", str(photo), *search_opts],
                        capture_output=True,
                        check=True,
                    ),
                )
                outputs[name].add(done.stdout)
                cat = timed(name, "open catalog", lambda folder=folder: Catalog.load(folder))
                timed(
                    name,
                    "rank top 10 (frames read)",
                    lambda cat=cat: rank_moments(query_vec, index, cat, top_k=10),
                )
                save = save_format1 if name == "format 1" else Catalog.save
                extra = synthetic_copy(ingest, "added.avi", index.dim, rng)

                def change(
                    folder: Path = folder, save: Any = save, extra: Any = extra, remove: bool = False
                ) -> None:
                    cat = Catalog.load(folder)
                    if remove:
                        cat.remove(extra.video)
                    else:
                        cat.add(extra)
                    save(cat, folder)

                timed(name, "add one video: load, add, save", change)
                timed(name, "remove it: load, remove, save", lambda change=change: change(remove=True))
            began = time.perf_counter()
            vectors = VectorIndex.load(new / "vectors")
            add_to_index(vectors, Catalog(), synthetic_copy(ingest, "added.avi", index.dim, rng))
            vectors.save(new / "vectors")
            index_s["add"].append(time.perf_counter() - began)
            began = time.perf_counter()
            vectors = VectorIndex.load(new / "vectors")
            vectors.remove_video("added.avi")
            vectors.save(new / "vectors")
            index_s["remove"].append(time.perf_counter() - began)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"catalog bench on {platform.node()} ({os.cpu_count()} cores, shared with other work), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average (1/5/15 min) "
        f"{'/'.join(f'{v:.1f}' for v in load_before)} before, "
        f"{'/'.join(f'{v:.1f}' for v in load_after)} after"
    )
    print(
        f"folder: {hours:g} h of footage = 1 real PETS video + {copies} synthetic copies (random vectors), "
        f"{tracks} tracks, {frames} track frames, {len(index)} vectors; models {models.get('pack')} pack"
    )
    same = outputs["format 1"] == outputs["format 2"] and len(outputs["format 2"]) == 1
    print(f"`reid search --json` output identical for both formats, every run: {'yes' if same else 'NO'}")
    print(f"{'median of ' + str(repeat):34s} {'format 1':>12s} {'format 2':>12s} {'ratio':>8s}")
    print(
        f"{'catalog on disk':34s} {sizes['format 1'] / 1e6:>9.1f} MB {sizes['format 2'] / 1e6:>9.1f} MB "
        f"{sizes['format 1'] / sizes['format 2']:>7.2f}x"
    )
    for what in timings["format 1"]:
        a, b = (statistics.median(timings[name][what]) for name in folders)
        print(f"{what:34s} {a * 1000:>9.0f} ms {b * 1000:>9.0f} ms {a / b:>7.1f}x")
    print(
        "vector index, the same for both (load, change, save): "
        f"add {statistics.median(index_s['add']):.2f} s, remove {statistics.median(index_s['remove']):.2f} s"
    )
    return 0 if same else 1


def search_pets_index_dir(case_id: int) -> Path:
    from webapp.footage.index_store import index_dir

    return index_dir(case_id)


if __name__ == "__main__":
    sys.exit(main())
