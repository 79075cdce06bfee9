"""The PETS 2009 S2L1 clip, analysed once and stored into as many test cases as needed.

The real engine (the same model pack a worker loads) ingests the clip once; the result, the rendition and
the poster are kept in pytest's cache folder, keyed by the clip, the engine's source and the model folders,
so later runs (and the browser tests, which import this module too) skip the minute of analysis. Each test
then gets its own case with the video stored through the footage app's own storing code: rows, crops and
the case's vector index, exactly as an ingest job leaves them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    return Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def pets_clip() -> Path:
    return shared_dir() / "data" / "pets09_s2l1" / "vtest.avi"


def pets_gt() -> Path:
    return shared_dir() / "data" / "pets09_s2l1" / "gt.txt"


def models_dirs() -> list[Path]:
    raw = os.environ.get("REID_MODELS_DIRS")
    if raw:
        return [Path(p) for p in raw.split(os.pathsep) if p]
    models = shared_dir() / "models"
    return [models] if models.is_dir() else []


@dataclass
class PetsIngest:
    ingest: Any  # reid_core VideoIngest
    models: dict[str, Any]
    folder: Path  # holds rendition.mp4 and poster.jpg


def _cache_key() -> str:
    digest = hashlib.sha256()
    clip = pets_clip()
    digest.update(f"{clip.stat().st_size}:{clip.stat().st_mtime_ns}".encode())
    for path in sorted((REPO / "reid_core").rglob("*.py")) + sorted((REPO / "reid_core").rglob("*.toml")):
        digest.update(path.read_bytes())
    digest.update(os.pathsep.join(str(p) for p in models_dirs()).encode())
    return digest.hexdigest()[:16]


def load_engine() -> Any:
    from django.conf import settings

    from reid_core.pipeline import Engine

    return Engine.load(pack=settings.SIGHTLINE_MODEL_PACK, dirs=models_dirs() or None, threads=2)


def pets_ingest(cache_root: Path) -> PetsIngest:
    """The clip's ingest result (computed once, then read from the cache)."""
    from webapp.footage import media

    folder = cache_root / _cache_key()
    result = folder / "ingest.pickle"
    if result.exists():
        with result.open("rb") as fh:
            ingest, models = pickle.load(fh)
        return PetsIngest(ingest, models, folder)
    folder.mkdir(parents=True, exist_ok=True)
    engine = load_engine()
    ingest = engine.ingest(pets_clip(), video="pets")
    media.make_rendition(pets_clip(), folder / "rendition.mp4")
    media.make_poster(pets_clip(), folder / "poster.jpg", at_s=1.0)
    with (folder / ".ingest.tmp").open("wb") as fh:
        pickle.dump((ingest, engine.models_info()), fh)
    os.replace(folder / ".ingest.tmp", result)
    return PetsIngest(ingest, engine.models_info(), folder)


def store_pets(case: Any, pets: PetsIngest, camera_label: str = "PETS 2009 view 1") -> Any:
    """A ready video in the case holding the clip's tracks, crops and vectors (footage's storing code)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from webapp.footage import ingest, media
    from webapp.footage.models import Video, VideoStatus, original_upload_to

    clip = pets_clip()
    info = media.probe(clip)
    owner = get_user_model().objects.get(pk=case.owner_id)
    video = Video.objects.create(
        case=case,
        uploaded_by=owner,
        original_name=clip.name,
        sha256=hashlib.sha256(clip.read_bytes()).hexdigest(),
        size_bytes=clip.stat().st_size,
        duration_s=info.duration_s,
        fps=info.fps,
        frame_count=info.frames,
        width=info.width,
        height=info.height,
        codec=info.codec,
        camera_label=camera_label,
        status=VideoStatus.INGESTING,
    )
    relative = original_upload_to(video, "original.avi")
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, target)
    shutil.copyfile(pets.folder / "rendition.mp4", target.parent / "rendition.mp4")
    shutil.copyfile(pets.folder / "poster.jpg", target.parent / "poster.jpg")
    video.original.name = relative
    video.rendition.name = str(Path(relative).parent / "rendition.mp4")
    video.poster.name = str(Path(relative).parent / "poster.jpg")
    video.save(update_fields=["original", "rendition", "poster"])
    result = dataclasses.replace(pets.ingest, video=str(video.pk))  # the engine names videos by their pk
    ingest.store_ingest(video=video, result=result, models=pets.models)
    Video.objects.filter(pk=video.pk).update(status=VideoStatus.READY)
    video.refresh_from_db()
    return video


# --- query photos cut from the clip ------------------------------------------------------------------


@dataclass(frozen=True)
class GtQuery:
    gt_id: int
    frame: int
    box: tuple[float, float, float, float]


def gt_queries() -> list[GtQuery]:
    """reid_core's evaluation protocol: per person, the largest box among the first quarter of its boxes
    (the frames around it are the ones the evaluation does not score)."""
    from reid_core.eval.mot import load_mot_gt
    from reid_core.eval.video_eval import pick_queries

    return [GtQuery(q.gt_id, q.frame, q.box) for q in pick_queries(load_mot_gt(pets_gt()))]


def largest_query() -> GtQuery:
    """The evaluation query with the largest box: the clearest photo of one person."""
    return max(gt_queries(), key=lambda q: q.box[2] * q.box[3])


def gt_boxes(gt_id: int) -> dict[int, tuple[float, float, float, float]]:
    from reid_core.eval.mot import load_mot_gt

    return {g.frame: g.box for g in load_mot_gt(pets_gt()) if g.id == gt_id}


def frame_image(index: int) -> Any:
    """Decoded frame `index` (0-based, as the engine counts) as BGR."""
    from reid_core.video import iter_frames

    times: list[float] = []
    for frame in iter_frames(pets_clip(), None, times):
        if frame.index == index:
            return frame.image
    raise ValueError(f"frame {index} not in the clip")


def save_crop(image: Any, box: tuple[float, float, float, float], path: Path, pad: float = 0.1) -> Path:
    import cv2

    x, y, w, h = box
    x0, y0 = max(0, int(x - pad * w)), max(0, int(y - pad * h))
    x1, y1 = min(image.shape[1], int(x + w * (1 + pad))), min(image.shape[0], int(y + h * (1 + pad)))
    cv2.imwrite(str(path), image[y0:y1, x0:x1])
    return path


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def track_matches(boxes: list[list[float]], gt: dict[int, tuple[float, float, float, float]]) -> float:
    """Share of a track's frames ([frame, t, x, y, w, h] rows) where its box is the person's (IoU >= 0.5)."""
    if not boxes:
        return 0.0
    good = sum(1 for r in boxes if int(r[0]) in gt and iou(tuple(r[2:6]), gt[int(r[0])]) >= 0.5)
    return good / len(boxes)
