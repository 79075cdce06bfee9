"""The catalog on disk: one file per video and a manifest, read lazily, written incrementally and atomically;
format 1 folders read and migrated; a SIGKILL during saves never leaves a folder a search cannot use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from catalog_format1 import save_format1

from reid_core.catalog import FILENAME, STORE_SUBDIR, Catalog, CatalogError
from reid_core.index import VectorIndex, VectorKey
from reid_core.types import IngestStats, Snapshot, Track, TrackFrame, VideoIngest

DIM = 16
REPO = Path(__file__).resolve().parents[2]


def make_ingest(video: str, tracks: int = 4, frames: int = 50, seed: int = 0) -> VideoIngest:
    """A video's ingest with irregular float boxes and times (every bit must survive a round trip)."""
    rng = np.random.default_rng(seed)
    out_tracks, snaps = [], []
    for tid in range(1, tracks + 1):
        start = int(rng.integers(0, 500))
        boxes = rng.uniform(0, 700, (frames, 4)).tolist()
        scores = rng.uniform(size=frames).tolist()
        rows = [
            TrackFrame(start + i, (start + i) / 7.0, (b[0], b[1], b[2], b[3]), scores[i] if i % 5 else 0.0)
            for i, b in enumerate(boxes)
        ]
        out_tracks.append(Track(tid, rows))
        for n, f in enumerate(rows[:: max(1, frames // 3)][:3]):
            v = rng.normal(size=DIM).astype(np.float32)
            snaps.append(Snapshot(tid, n, f.frame, f.t, f.box, float(rng.uniform()), v / np.linalg.norm(v)))
    stats = IngestStats(frames + 500, frames + 500, 3 * frames, tracks, len(snaps), {"detect": 1.25})
    return VideoIngest(video, f"/footage/{video}", 768, 576, 80.0, 10.0, out_tracks, snaps, stats)


def same(a: Catalog, b: Catalog) -> None:
    assert a.models == b.models and list(a.videos) == list(b.videos)
    for name, ra in a.videos.items():
        rb = b.videos[name]
        assert (ra.path, ra.width, ra.height, ra.duration_s, ra.analysis_fps, ra.stats) == (
            rb.path,
            rb.width,
            rb.height,
            rb.duration_s,
            rb.analysis_fps,
            rb.stats,
        )
        assert list(ra.tracks) == list(rb.tracks) and list(ra.snapshots) == list(rb.snapshots)
        for tid in ra.tracks:
            assert ra.tracks[tid] == rb.tracks[tid]  # exact floats, same order
        for tid in ra.snapshots:
            assert ra.snapshots[tid] == rb.snapshots[tid]


def video_files(directory: Path) -> dict[str, tuple[int, int]]:
    """File name -> (inode, mtime_ns) of every file in the catalog's folder."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (directory / STORE_SUBDIR).iterdir()}


def manifest(directory: Path) -> dict:
    return json.loads((directory / FILENAME).read_text())


def test_saved_catalog_round_trips_and_loads_only_what_is_used(tmp_path: Path) -> None:
    cat = Catalog(models={"pack": "accurate", "embedder": "osnet", "dim": DIM})
    for n in range(3):
        cat.add(make_ingest(f"cam{n}.avi", seed=n))
    cat.save(tmp_path)
    doc = manifest(tmp_path)
    assert doc["format"] == 2 and list(doc["videos"]) == ["cam0.avi", "cam1.avi", "cam2.avi"]
    assert len(video_files(tmp_path)) == 3
    # The models lead the manifest: the web app reads them from the head of the file.
    assert (tmp_path / FILENAME).read_text().startswith('{"format":2,"models":{"pack":"accurate"')

    back = Catalog.load(tmp_path)
    same(cat, back)
    assert back.track("cam1.avi", 2) == cat.videos["cam1.avi"].tracks[2]
    with pytest.raises(CatalogError, match="no track 99"):
        back.track("cam1.avi", 99)
    assert back.videos["cam1.avi"].snapshots.get(99, []) == []

    # Loading read the manifest only: with one video's file gone, the others still read, and that one
    # says what happened when it is used.
    lazy = Catalog.load(tmp_path)
    (tmp_path / STORE_SUBDIR / doc["videos"]["cam2.avi"]["file"]).unlink()
    assert set(lazy.videos) == {"cam0.avi", "cam1.avi", "cam2.avi"}
    assert lazy.videos["cam0.avi"].tracks[3] == cat.videos["cam0.avi"].tracks[3]
    with pytest.raises(CatalogError, match=r"cam2\.avi.*gone"):
        lazy.videos["cam2.avi"].snapshots.get(1)


def test_adding_or_removing_a_video_rewrites_no_other_video(tmp_path: Path) -> None:
    cat = Catalog(models={"dim": DIM})
    for n in range(3):
        cat.add(make_ingest(f"cam{n}.avi", seed=n))
    cat.save(tmp_path)
    before = video_files(tmp_path)

    loaded = Catalog.load(tmp_path)
    loaded.add(make_ingest("cam3.avi", seed=3))
    loaded.save(tmp_path)
    after = video_files(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # untouched: same inode and mtime
    assert len(after) == 4
    loaded.save(tmp_path)  # saving again writes no video file
    assert video_files(tmp_path) == after

    gone = manifest(tmp_path)["videos"]["cam1.avi"]["file"]
    reader = Catalog.load(tmp_path)  # opened before the removal
    loaded.remove("cam1.avi")
    loaded.save(tmp_path)
    assert "cam1.avi" not in Catalog.load(tmp_path).videos
    assert set(video_files(tmp_path)) == set(after)  # the replaced manifest's files are kept for its readers
    assert reader.videos["cam1.avi"].tracks[1] == cat.videos["cam1.avi"].tracks[1]
    loaded.save(tmp_path)
    assert gone not in video_files(tmp_path) and len(video_files(tmp_path)) == 3
    same(loaded, Catalog.load(tmp_path))

    # Replacing a video (re-ingest) writes one new file; the record reads back the new content.
    loaded.add(make_ingest("cam0.avi", tracks=2, seed=42))
    loaded.save(tmp_path)
    again = Catalog.load(tmp_path)
    assert list(again.videos["cam0.avi"].tracks) == [1, 2]
    assert again.videos["cam0.avi"].tracks[2] == make_ingest("cam0.avi", tracks=2, seed=42).tracks[1]


def test_a_loaded_catalog_saved_elsewhere_copies_every_video(tmp_path: Path) -> None:
    cat = Catalog(models={"dim": DIM})
    for n in range(2):
        cat.add(make_ingest(f"cam{n}.avi", seed=n))
    cat.save(tmp_path / "a")
    Catalog.load(tmp_path / "a").save(tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    same(cat, Catalog.load(tmp_path / "b"))


def test_format_1_folders_are_read_and_migrated_by_the_next_save(tmp_path: Path) -> None:
    cat = Catalog(models={"pack": "accurate", "dim": DIM})
    for n in range(3):
        cat.add(make_ingest(f"cam{n}.avi", seed=n))
    save_format1(cat, tmp_path)
    assert manifest(tmp_path)["format"] == 1 and not (tmp_path / STORE_SUBDIR).exists()
    old = Catalog.load(tmp_path)
    same(cat, old)

    old.add(make_ingest("cam3.avi", seed=3))
    old.save(tmp_path)
    assert manifest(tmp_path)["format"] == 2 and len(video_files(tmp_path)) == 4
    cat.add(make_ingest("cam3.avi", seed=3))
    same(cat, Catalog.load(tmp_path))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_catalog import make_ingest
    from reid_core.catalog import Catalog, CatalogError
    target, me = Path(sys.argv[1]), sys.argv[3]
    n = refused = 0
    while n < 25:
        catalog = Catalog.load(target)
        catalog.add(make_ingest(f"{me}{n}", tracks=2, frames=400, seed=n))
        catalog.remove(f"{me}{n - 3}")
        try:
            catalog.save(target)
            n, refused = n + 1, 0
        except CatalogError as exc:  # the other writer's saves deleted a file this stale view names
            assert "load it again" in str(exc), exc
            refused += 1
            if refused == 50:
                sys.exit(f"{me}: every save refused: the manifest names a file that is gone")
    """
)


def test_two_writers_at_once_never_leave_a_dangling_file(tmp_path: Path) -> None:
    """Two processes load, change and save one folder at the same time: one's video may be lost from the
    manifest (the last save wins) and a save from a stale view is refused, but every video a manifest names
    stays readable."""
    Catalog(models={"dim": DIM}).save(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(Path(__file__).parent), me], env=env
        )
        for me in ("a", "b")
    ]
    seen = 0
    deadline = time.monotonic() + 120
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        catalog = Catalog.load(tmp_path)
        for name, rec in catalog.videos.items():
            try:
                assert list(rec.tracks.values()) == make_ingest(name, 2, 400, int(name[1:])).tracks
                seen += 1
            except CatalogError as exc:  # a reader may lag two saves behind; a new load must then work
                assert "gone" in str(exc)
    for p in procs:
        if p.poll() is None:
            p.kill()
    assert [p.wait() for p in procs] == [0, 0]
    final = Catalog.load(tmp_path)
    assert final.videos and seen
    for name, rec in final.videos.items():
        assert list(rec.tracks.values()) == make_ingest(name, 2, 400, int(name[1:])).tracks


def test_damaged_catalogs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog here"):
        Catalog.load(tmp_path)
    cat = Catalog(models={"dim": DIM})
    cat.add(make_ingest("cam0.avi"))
    cat.save(tmp_path)
    doc = manifest(tmp_path)
    file = tmp_path / STORE_SUBDIR / doc["videos"]["cam0.avi"]["file"]
    data = file.read_bytes()

    file.write_bytes(data[:-8])  # cut short
    with pytest.raises(CatalogError, match=r"damaged catalog file of video 'cam0\.avi'"):
        len(Catalog.load(tmp_path).videos["cam0.avi"].tracks)
    file.write_bytes(b"garbage!" + data[8:])
    with pytest.raises(CatalogError, match="not a catalog video file"):
        Catalog.load(tmp_path).track("cam0.avi", 1)
    file.write_bytes(data)
    assert Catalog.load(tmp_path).track("cam0.avi", 1) == cat.videos["cam0.avi"].tracks[1]

    for bad in ("../../etc/passwd", "x.video"):
        (tmp_path / FILENAME).write_text(
            json.dumps({**doc, "videos": {"v": {**doc["videos"]["cam0.avi"], "file": bad}}})
        )
        with pytest.raises(CatalogError, match="damaged catalog"):
            Catalog.load(tmp_path)
    (tmp_path / FILENAME).write_text(json.dumps({**doc, "format": 3}))
    with pytest.raises(CatalogError, match="catalog format 3"):
        Catalog.load(tmp_path)
    (tmp_path / FILENAME).write_text('{"format": 2, "models"')
    with pytest.raises(CatalogError, match="unreadable catalog"):
        Catalog.load(tmp_path)


# A writer that never stops, as `reid index` and the footage app write: adding a video saves the vectors
# first and the catalog second; removing one saves the catalog first and the vectors second. Video vN has
# the content of seed N % 3, so the parent can check every value it reads back.
CHILD = textwrap.dedent(
    """
    import dataclasses
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_catalog import crash_ingest
    from reid_core.catalog import Catalog
    from reid_core.index import VectorIndex
    from reid_core.pipeline import add_to_index
    target = Path(sys.argv[1])
    ingests = [crash_ingest(f"v{n}") for n in range(3)]
    index, catalog = VectorIndex(16), Catalog(models={"dim": 16})
    if (target / "catalog.json").exists():  # go on from what the killed writer left, as `reid index` does
        index, catalog = VectorIndex.load(target / "vectors"), Catalog.load(target)
    n = 1 + max((int(name[1:]) for name in catalog.videos), default=-1)
    def save_catalog():
        print("saving", flush=True)
        catalog.save(target)
        print("saved", flush=True)
    while True:
        add_to_index(index, catalog, dataclasses.replace(ingests[n % 3], video=f"v{n}"))
        index.save(target / "vectors")
        save_catalog()
        if n >= 2:
            catalog.remove(f"v{n - 2}")
            save_catalog()
            index.remove_video(f"v{n - 2}")
            index.save(target / "vectors")
        n += 1
    """
)


def crash_ingest(name: str) -> VideoIngest:
    return make_ingest(name, tracks=20, frames=3000, seed=int(name[1:]) % 3)


@pytest.mark.slow
def test_killed_mid_save_leaves_a_folder_a_search_can_use(tmp_path: Path) -> None:
    """A real crash: SIGKILL a process that keeps adding and removing videos, at several moments."""
    from reid_core.search import rank_moments

    target = tmp_path / "idx"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    interrupted = 0
    for delay in (0.0, 0.03, 0.07, 0.12, 0.2, 0.3):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target), str(Path(__file__).parent)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        while proc.stdout.readline() != "saved\n":  # one catalog save finished
            pass
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted += proc.stdout.read().splitlines()[-1:] == ["saving"]  # killed inside Catalog.save
        listed = set(manifest(target)["videos"])
        catalog = Catalog.load(target)
        index = VectorIndex.load(target / "vectors")
        assert set(catalog.videos) == listed and listed <= index.videos()
        keys, vectors = [], []
        for name, rec in catalog.videos.items():
            want = crash_ingest(name)
            assert list(rec.tracks.values()) == want.tracks
            got = [
                (name, s.track_id, s.snapshot, s.frame, s.box)
                for snaps in rec.snapshots.values()
                for s in snaps
            ]
            assert got == [(name, s.track_id, s.snapshot, s.frame, s.box) for s in want.snapshots]
            keys += [VectorKey(name, s.track_id, s.snapshot) for s in want.snapshots]
            vectors += [s.vector for s in want.snapshots]
        # Every snapshot the catalog lists has its vector (vectors are saved first); a search ranks only
        # listed videos, whatever else the index still holds.
        assert np.allclose(index.vectors(keys), np.stack(vectors), atol=1e-3)
        moments = rank_moments(_query(), index, catalog, top_k=50)
        assert moments and {m.video for m in moments} <= listed
    assert interrupted >= 1, "no kill landed inside a catalog save: the test proved nothing"
    catalog.save(target)  # the next save clears what the crashes left (beyond the replaced manifest's files)
    catalog.save(target)
    named = {v["file"] for v in manifest(target)["videos"].values()}
    assert {p.name for p in (target / STORE_SUBDIR).iterdir()} == named
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


def _query() -> np.ndarray:
    v = np.random.default_rng(7).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.mark.slow
def test_search_json_is_byte_for_byte_the_same_on_format_1(
    pets_index, pets_video: Path, tmp_path: Path
) -> None:
    """`reid search --json` on a real PETS index: the format 2 folder and the same index with a format 1
    catalog.json (as the previous version wrote it) print the same bytes."""
    import cv2

    from reid_core.video import iter_frames

    new, old = tmp_path / "new", tmp_path / "old"
    shutil.copytree(pets_index.directory, new)
    shutil.copytree(pets_index.directory / "vectors", old / "vectors")
    save_format1(Catalog.load(new), old)
    assert manifest(old)["format"] == 1 and manifest(new)["format"] == 2
    image = next(f.image for f in iter_frames(pets_video) if f.index == 525)
    photo = tmp_path / "scene.jpg"
    cv2.imwrite(str(photo), image)
    outputs = []
    top = ["--top", "8", "--json", "--threads", "2"]
    for folder in (old, new):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reid_core.cli",
                "search",
                "--index",
                str(folder),
                "--query",
                str(photo),
                *top,
            ],
            capture_output=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[1])
    assert len(doc["hits"]) == 8 and all(h["frames"] for h in doc["hits"])
    assert manifest(old)["format"] == 1  # searching never writes
