"""Cross-camera evaluation (`reid eval-xcam`): the photo comes from one camera, the footage from the others.

The data: a folder with one sub-folder of frames per camera (or one video per camera) and MOTChallenge ground
truth in gt/<camera>.txt whose person ids are shared across cameras (the WILDTRACK layout). Rows with conf 1
are clean boxes; conf 0 boxes (cut by the border, small or mostly covered) are ignored: matching one is
neither right nor wrong.

Two protocols:
- ReID on crops: every clean box's crop is a query against the clean crops of the OTHER cameras (mAP and
  rank-1; queries whose person no other camera shows are left out). This measures the embedder alone.
- End to end: every camera is indexed by the engine as a user's footage would be; for each (camera, person)
  the query is the crop of that person's largest clean box in that camera, and the ranked moments of the
  other cameras are scored frame by frame (a moment's box is right where IoU >= iou with the person's clean
  box). Frame AP accumulates precision and recall down the ranked moments (recall over the person's clean
  boxes in the other cameras); recall@5 is the share of them covered by the top 5 moments.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reid_core.embed import Embedder, crop
from reid_core.eval.market import market_metrics
from reid_core.eval.mot import iou, read_mot_rows
from reid_core.pipeline import Engine
from reid_core.search import SnapshotRef, score_tracks
from reid_core.types import Box, FootageError, Image, Track, Vectors, VideoIngest
from reid_core.video import ImagesMode, iter_frames, probe


@dataclass(frozen=True)
class GtRow:
    camera: str
    frame: int  # 0-based position in the camera's frames (MOT files count from 1)
    id: int
    box: Box
    clean: bool  # conf 1: fully inside, big enough, not mostly covered


@dataclass(frozen=True)
class Camera:
    name: str
    footage: Path  # a folder of frames or a video file
    rows: list[GtRow]


@dataclass(frozen=True)
class CropReid:
    queries: int
    gallery: int
    mAP: float
    rank1: float


@dataclass(frozen=True)
class CameraResult:
    camera: str
    queries: int
    frame_ap: float
    recall_at_5: float


@dataclass(frozen=True)
class XcamEval:
    root: str
    cameras: list[str]
    crops: CropReid
    queries: int
    frame_ap: float
    recall_at_5: float
    per_camera: list[CameraResult]
    tracks: int
    embed_calls: int
    ingest_s: float
    images: str  # how the camera folders were read: gallery or sequence


def load_gt(path: Path, camera: str) -> list[GtRow]:
    return [GtRow(camera, r.frame - 1, r.id, r.box, r.conf > 0) for r in read_mot_rows(path)]


def load_cameras(root: Path) -> list[Camera]:
    """Every camera of the folder that has ground truth: gt/<name>.txt beside <name>/ or <name>.<ext>."""
    root = Path(root)
    gt_dir = root / "gt"
    if not gt_dir.is_dir():
        raise FootageError(f"{root}: no gt/ folder (expected gt/<camera>.txt per camera)")
    cameras = []
    for gt in sorted(gt_dir.glob("*.txt")):
        name = gt.stem
        footage = root / name
        if not footage.exists():
            videos = sorted(p for p in root.glob(f"{name}.*") if p.is_file())
            if not videos:
                raise FootageError(f"{root}: ground truth {gt.name} has no footage {name}/ or {name}.<ext>")
            footage = videos[0]
        cameras.append(Camera(name, footage, load_gt(gt, name)))
    if len(cameras) < 2:
        raise FootageError(f"{root}: cross-camera evaluation needs at least two cameras with ground truth")
    return cameras


def _frames(camera: Camera, wanted: set[int], images: ImagesMode) -> dict[int, Image]:
    return {f.index: f.image for f in iter_frames(camera.footage, images=images) if f.index in wanted}


# (vectors, the camera of each, the frame of each) -> the vectors to compare (e.g. a site adaptation's)
CropTransform = Callable[[Vectors, list[str], list[int]], Vectors]


def crop_reid(embedder: Embedder, cameras: list[Camera], images: ImagesMode = "auto") -> CropReid:
    """Each clean crop against the clean crops of the other cameras (the embedder alone)."""
    return crop_reid_compared(embedder, cameras, images)["embedder"]


def crop_reid_compared(
    embedder: Embedder,
    cameras: list[Camera],
    images: ImagesMode = "auto",
    transforms: Mapping[str, CropTransform] | None = None,
) -> dict[str, CropReid]:
    """crop_reid (key "embedder"), and the same crops through each of ``transforms`` (same run)."""
    vecs, ids, cams, names, frames_of = [], [], [], [], []
    for ci, cam in enumerate(cameras):
        clean = [r for r in cam.rows if r.clean]
        frames = _frames(cam, {r.frame for r in clean}, images)
        crops = [crop(frames[r.frame], r.box) for r in clean]
        for i in range(0, len(crops), 64):
            vecs.append(embedder.embed(crops[i : i + 64]))
        ids += [r.id for r in clean]
        cams += [ci] * len(clean)
        names += [cam.name] * len(clean)
        frames_of += [r.frame for r in clean]
    v = np.concatenate(vecs)
    out = {"embedder": _crop_metrics(v, np.array(ids), np.array(cams), len(cameras))}
    for label, transform in (transforms or {}).items():
        out[label] = _crop_metrics(
            transform(v, names, frames_of), np.array(ids), np.array(cams), len(cameras)
        )
    return out


def _crop_metrics(v: Vectors, id_arr: np.ndarray, cam_arr: np.ndarray, cameras: int) -> CropReid:
    aps: list[tuple[float, float, int]] = []
    for ci in range(cameras):
        q, g = cam_arr == ci, cam_arr != ci
        m, cmc, n = market_metrics(v[q], id_arr[q], cam_arr[q], v[g], id_arr[g], cam_arr[g])
        aps.append((m, cmc[1], n))
    total = sum(n for _, _, n in aps)
    return CropReid(
        queries=total,
        gallery=len(v),
        mAP=sum(m * n for m, _, n in aps) / total if total else 0.0,
        rank1=sum(r * n for _, r, n in aps) / total if total else 0.0,
    )


def _score(
    order: list[tuple[str, int]],
    tracks: dict[tuple[str, int], Track],
    clean: dict[tuple[str, int], Box],
    ignored: dict[tuple[str, int], list[Box]],
    threshold: float,
) -> tuple[float, float]:
    """(frame AP, recall@5) of ranked moments against the person's clean boxes, keyed (camera, frame)."""
    total = len(clean)
    found: set[tuple[str, int]] = set()
    tp = shown = 0
    ap = r5 = 0.0
    for rank, key in enumerate(order, 1):
        hits = 0
        camera = key[0]
        for f in tracks[key].frames:
            where = (camera, f.frame)
            g = clean.get(where)
            if g is not None and iou(f.box, g) >= threshold:
                if where not in found:
                    found.add(where)
                    hits += 1
                    shown += 1
                continue
            if any(iou(f.box, b) >= threshold for b in ignored.get(where, ())):
                continue  # the person where the ground truth says "don't count"
            shown += 1
        tp += hits
        if hits:
            ap += (tp / shown) * (hits / total)
        if rank == 5:
            r5 = len(found) / total
    if len(order) < 5:
        r5 = len(found) / total
    return ap, r5


def evaluate_xcam(
    engine: Engine, root: Path, *, images: ImagesMode = "auto", iou_threshold: float = 0.3
) -> XcamEval:
    """Both protocols (see the module docstring) with the engine's detector, tracker and embedder."""
    cameras = load_cameras(root)
    crops = crop_reid(engine.embedder, cameras, images)
    started = time.perf_counter()
    ingests: dict[str, VideoIngest] = {
        cam.name: engine.ingest(cam.footage, video=cam.name, images=images) for cam in cameras
    }
    ingest_s = time.perf_counter() - started
    tracks = {(name, t.track_id): t for name, ing in ingests.items() for t in ing.tracks}
    per_cam: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for cam in cameras:
        by_id: dict[int, list[GtRow]] = defaultdict(list)
        for r in cam.rows:
            if r.clean:
                by_id[r.id].append(r)
        frames = _frames(
            cam, {max(rs, key=lambda r: r.box[2] * r.box[3]).frame for rs in by_id.values()}, images
        )
        others = [c for c in cameras if c is not cam]
        snaps = [(c.name, s) for c in others for s in ingests[c.name].snapshots]
        if not snaps:
            continue
        refs = [SnapshotRef(name, s.track_id, s.snapshot, s.frame) for name, s in snaps]
        vectors = np.stack([s.vector for _, s in snaps]).astype(np.float32)
        for gid, rows in sorted(by_id.items()):
            clean = {(c.name, r.frame): r.box for c in others for r in c.rows if r.id == gid and r.clean}
            if not clean:
                continue  # nobody else saw this person
            ignored: dict[tuple[str, int], list[Box]] = defaultdict(list)
            for c in others:
                for r in c.rows:
                    if r.id == gid and not r.clean:
                        ignored[(c.name, r.frame)].append(r.box)
            best = max(rows, key=lambda r: r.box[2] * r.box[3])
            query = engine.query_vector(frames[best.frame], best.box)
            order = [ts.key for ts in score_tracks(query, vectors, refs, engine.settings.scoring)]
            per_cam[cam.name].append(_score(order, tracks, clean, ignored, iou_threshold))
    results = [
        CameraResult(
            name,
            len(v),
            float(np.mean([a for a, _ in v])),
            float(np.mean([r for _, r in v])),
        )
        for name, v in per_cam.items()
    ]
    everything = [x for v in per_cam.values() for x in v]
    return XcamEval(
        root=str(root),
        cameras=[c.name for c in cameras],
        crops=crops,
        queries=len(everything),
        frame_ap=float(np.mean([a for a, _ in everything])) if everything else 0.0,
        recall_at_5=float(np.mean([r for _, r in everything])) if everything else 0.0,
        per_camera=results,
        tracks=len(tracks),
        embed_calls=sum(i.stats.embed_calls for i in ingests.values()),
        ingest_s=ingest_s,
        images="gallery" if probe(cameras[0].footage, images).is_gallery else "sequence",
    )
