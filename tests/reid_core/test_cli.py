"""The `reid` console script as a user runs it: the search JSON contract, indexing, models, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_core.eval.mot import load_mot_gt
from reid_core.video import iter_frames

pytestmark = pytest.mark.slow


def reid(*args: str) -> subprocess.CompletedProcess[str]:
    # The installed console script runs reid_core.cli:main; `python -m` runs the same function here.
    return subprocess.run(
        [sys.executable, "-m", "reid_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        check=False,
    )


def test_search_json_contract(pets_index, pets_video: Path, pets_gt: Path, tmp_path: Path) -> None:
    gt = [g for g in load_mot_gt(pets_gt) if g.id == 7]
    q = max(gt[: len(gt) // 4], key=lambda g: g.box[3])
    image = next(f.image for f in iter_frames(pets_video) if f.index == q.frame)
    photo = tmp_path / "scene.jpg"
    cv2.imwrite(str(photo), image)  # a whole scene: the CLI picks the largest person
    done = reid("search", "--index", str(pets_index.directory), "--query", str(photo), "--top", "4", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {"query", "queries", "models", "hits"}
    assert doc["queries"] == [doc["query"]] and doc["query"]["image"] == str(photo)
    assert doc["models"]["embedder"] == "omz_reid_0277" and doc["models"]["pack"] == "trained"
    assert len(doc["query"]["candidates"]) >= 3 and len(doc["query"]["box"]) == 4
    assert 1 <= len(doc["hits"]) <= 4
    for hit in doc["hits"]:
        assert set(hit) == {"video", "track_id", "score", "start_s", "end_s", "best", "frames"}
        assert hit["video"] == "vtest.avi" and isinstance(hit["track_id"], int)
        assert set(hit["best"]) == {"frame", "t", "box"} and len(hit["best"]["box"]) == 4
        assert hit["start_s"] <= hit["best"]["t"] <= hit["end_s"]
        frames = hit["frames"]
        assert frames[0]["t"] == hit["start_s"] and frames[-1]["t"] == hit["end_s"]
        for f in frames:
            assert f["t"] == pytest.approx(f["frame"] / 10, abs=1e-3)  # 0-based decoded index, PETS 10 fps
            x, y, w, h = f["box"]
            assert x >= 0 and y >= 0 and x + w <= 768.5 and y + h <= 576.5  # the video's own pixels
    scores = [h["score"] for h in doc["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_index_then_search_a_gallery_and_models(shared_root: Path, tmp_path: Path) -> None:
    src = shared_root / "data" / "mot17_mini" / "MOT17-04-FRCNN" / "img1"
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((src / "000001.jpg").read_bytes())
    out = tmp_path / "idx"
    done = reid("index", str(folder), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "photos: 1 frames analysed" in done.stderr and (out / "catalog.json").is_file()
    # Query with one person cut from the same photo: its own one-frame moment comes first.
    image = cv2.imread(str(folder / "a.jpg"))
    found = reid("search", "--index", str(out), "--query", str(folder / "a.jpg"), "--json", "--top", "1")
    doc = json.loads(found.stdout)
    x, y, w, h = (round(v) for v in doc["query"]["box"])
    cv2.imwrite(str(tmp_path / "person.jpg"), image[y : y + h, x : x + w])
    again = reid(
        "search", "--index", str(out), "--query", str(tmp_path / "person.jpg"), "--json", "--top", "1"
    )
    hit = json.loads(again.stdout)["hits"][0]
    assert hit["best"]["box"] == pytest.approx([x, y, w, h], abs=1.0) and hit["score"] > 0.9

    models = reid("models")
    assert models.returncode == 0, models.stdout + models.stderr
    assert "osnet_x0_25_msmt17" in models.stdout and "sha256 verified" in models.stdout


def test_errors_are_one_clear_line(pets_index, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00" * 4096)
    done = reid("index", str(bad), "--out", str(tmp_path / "idx"), "--quiet")
    assert done.returncode == 2
    assert "reid: error:" in done.stderr and "corrupt.mp4" in done.stderr and "Traceback" not in done.stderr

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 120, 3), 128, dtype=np.uint8))
    done = reid("search", "--index", str(pets_index.directory), "--query", str(blank))
    assert done.returncode == 2 and "no person found" in done.stderr and "wall.png" in done.stderr

    done = reid("search", "--index", str(tmp_path / "nowhere"), "--query", str(blank))
    assert done.returncode == 2 and "no catalog" in done.stderr


def test_several_photos_and_a_gallery_that_names_its_images(
    pets_video: Path, pets_gt: Path, shared_root: Path, tmp_path: Path
) -> None:
    """Two tight crops of one PETS person fused into one query, searched in a folder of unrelated photos
    (a gallery): each hit names the image file it was found in."""
    gt = [g for g in load_mot_gt(pets_gt) if g.id == 1]
    picks = {gt[5].frame: gt[5], gt[-5].frame: gt[-5]}
    frames = {f.index: f.image for f in iter_frames(pets_video) if f.index in picks or f.index in (300, 600)}
    photos = []
    for n, (frame, g) in enumerate(sorted(picks.items())):
        x, y, w, h = (round(v) for v in g.box)
        photos.append(tmp_path / f"crop{n}.png")
        cv2.imwrite(str(photos[-1]), frames[frame][y : y + h, x : x + w])
    gallery = tmp_path / "photos"
    gallery.mkdir()
    cv2.imwrite(str(gallery / "lobby.jpg"), frames[300])
    cv2.imwrite(str(gallery / "street-corner.jpg"), frames[600])
    mot = shared_root / "data" / "mot17_mini" / "MOT17-02-FRCNN" / "img1" / "000001.jpg"
    (gallery / "other-place.jpg").write_bytes(mot.read_bytes())
    idx = tmp_path / "idx"
    done = reid("index", str(gallery), "--out", str(idx), "--quiet")
    assert done.returncode == 0, done.stderr
    done = reid("search", "--index", str(idx), "--query", str(photos[0]), "--query", str(photos[1]), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [q["image"] for q in doc["queries"]] == [str(p) for p in photos]
    assert doc["hits"] and all(
        h["image"] in {"lobby.jpg", "street-corner.jpg", "other-place.jpg"} for h in doc["hits"]
    )
    assert len({h["image"] for h in doc["hits"]}) >= 2  # several photos hold people; each hit says which
    done = reid(
        "search", "--index", str(idx), "--query", str(photos[0]), "--query", str(tmp_path / "gone.png")
    )
    assert done.returncode == 2 and "gone.png" in done.stderr


def test_an_index_of_another_embedder_is_searched_with_its_own(
    pets_video: Path, pets_gt: Path, shared_root: Path, tmp_path: Path
) -> None:
    """An index built with the former accurate pack's embedder (OSNet x0.25) is searched with that embedder,
    not silently with the new default; `reid models` names the trained pack as what auto takes."""
    gallery = tmp_path / "photos"
    gallery.mkdir()
    for n in (300, 600):
        image = next(f.image for f in iter_frames(pets_video) if f.index == n)
        cv2.imwrite(str(gallery / f"frame{n}.jpg"), image)
    idx = tmp_path / "idx"
    done = reid("index", str(gallery), "--out", str(idx), "--quiet", "--embedder", "osnet_x0_25_msmt17")
    assert done.returncode == 0, done.stderr
    g = next(g for g in load_mot_gt(pets_gt) if g.frame == 300)
    image = next(f.image for f in iter_frames(pets_video) if f.index == 300)
    x, y, w, h = (round(v) for v in g.box)
    photo = tmp_path / "crop.png"
    cv2.imwrite(str(photo), image[y : y + h, x : x + w])
    done = reid("search", "--index", str(idx), "--query", str(photo), "--json")
    assert done.returncode == 0, done.stderr
    assert "osnet_x0_25_msmt17" in done.stderr.splitlines()[0]
    assert json.loads(done.stdout)["models"]["embedder"] == "osnet_x0_25_msmt17"
    # Forcing another embedder on it is refused with the reason, never mixed.
    done = reid("search", "--index", str(idx), "--query", str(photo), "--embedder", "osnet_x0_5_msmt17")
    assert done.returncode == 2 and "osnet_x0_25_msmt17" in done.stderr and "rebuild" in done.stderr
    models = reid("models")
    assert "auto pack: trained" in models.stdout
