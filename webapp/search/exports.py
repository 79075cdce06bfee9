"""Exports of a query's results: CSV and JSON of the hits, a printable HTML case report, and evidence
clips cut from the ORIGINAL video (never the rendition) with their own sha256. Every export is audit-logged
by the caller through services.record_export()."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.conf import settings

from webapp.search import selectors
from webapp.search.models import Hit, Query

CSV_COLUMNS = (
    "rank", "score", "likelihood", "verdict", "video_id", "video", "camera", "video_sha256", "track",
    "start_s", "end_s", "start_wall_clock", "end_wall_clock", "frames",
)  # fmt: skip


class ExportError(Exception):
    """An export that cannot be made; the message is shown to the user."""


def hits_rows(query: Query) -> list[dict[str, Any]]:
    doc = selectors.results_for(query)
    rows = []
    for hit in doc["hits"]:
        video = doc["videos"][str(hit["video"])]
        rows.append(
            {
                "rank": hit["rank"],
                "score": hit["score"],
                "likelihood": hit["words"],
                "verdict": hit["verdict"] or "not reviewed",
                "video_id": hit["video"],
                "video": video["name"],
                "camera": video["camera_label"],
                "video_sha256": video["sha256"],
                "track": hit["track"],
                "start_s": hit["start_s"],
                "end_s": hit["end_s"],
                "start_wall_clock": hit["start_wall"] or "",
                "end_wall_clock": hit["end_wall"] or "",
                "frames": hit["frames"],
            }
        )
    return rows


def hits_csv(query: Query) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in hits_rows(query):
        # A cell starting with = + - @ would run as a formula in a spreadsheet: quote it as text.
        writer.writerow(
            {k: (f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()}
        )
    return out.getvalue()


def hits_json(query: Query) -> str:
    doc = selectors.results_for(query)
    return json.dumps(doc, indent=2)


def report_context(query: Query) -> dict[str, Any]:
    doc = selectors.results_for(query)
    hits = doc["hits"]
    for hit in hits:
        video = doc["videos"][str(hit["video"])]
        hit["video_label"] = video["label"]
        hit["start_text"], hit["end_text"] = clock(hit["start_s"]), clock(hit["end_s"])
    confirmed = [h for h in hits if h["verdict"] == "confirmed"]
    return {
        "query": query,
        "doc": doc,
        "moments": confirmed,
        "all_hits": hits,
        "only_confirmed": bool(confirmed),
        "videos": list(doc["videos"].values()),
    }


def clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


# --- evidence clips ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    path: Path
    sha256: str
    size_bytes: int
    start_s: float
    end_s: float
    frames: int


def clip_path(hit: Hit) -> Path:
    video = hit.track.video
    name = f"clip-q{hit.query_id}-v{video.pk}-t{hit.track.track_id}.mp4"
    return Path(settings.MEDIA_ROOT) / "cases" / str(video.case_id) / "exports" / name


def cut_clip(source: Path, target: Path, start_s: float, end_s: float) -> Clip:
    """Frames of the original between start_s and end_s, encoded as H.264 MP4 (playable anywhere).

    The original's own timestamps are kept (encoder time base = input's), so a time in the clip's
    metadata maps back to the original. Written to a temporary name, fsynced, then renamed.
    """
    import av

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    frames = 0
    try:
        with av.open(str(source)) as inp:
            stream = inp.streams.video[0]
            stream.thread_type = "AUTO"
            base = stream.time_base or Fraction(1, 1000)
            width, height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                enc = out.add_stream("libx264", rate=rate)
                enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
                enc.time_base = enc.codec_context.time_base = base
                enc.options = {"crf": "18", "preset": "veryfast"}
                last_pts = -1
                for index, frame in enumerate(inp.decode(stream)):
                    t = float(frame.pts * base) if frame.pts is not None else index / float(rate)
                    if t < start_s - 1e-6:
                        continue
                    if t > end_s + 1e-6:
                        break
                    pts = frame.pts if frame.pts is not None and frame.pts > last_pts else last_pts + 1
                    last_pts = pts
                    picture = frame.reformat(width=width, height=height, format="yuv420p")
                    picture.pts, picture.time_base = pts, base
                    for packet in enc.encode(picture):
                        out.mux(packet)
                    frames += 1
                for packet in enc.encode(None):
                    out.mux(packet)
        if frames == 0:
            raise ExportError("No frame of the original falls in this moment; the clip was not made.")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Clip(target, sha256_file(target), target.stat().st_size, start_s, end_s, frames)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evidence_clip(hit: Hit) -> Clip:
    video = hit.track.video
    if not video.original:
        raise ExportError("The original video is missing from the media store.")
    source = Path(video.original.path)
    if not source.exists():
        raise ExportError("The original video is missing from the media store.")
    return cut_clip(source, clip_path(hit), hit.start_s, hit.end_s)
