"""Exports of a query's results: CSV and JSON of the hits and a printable HTML case report (evidence clips:
clips.py and clip_cut.py). Every export is audit-logged by the caller through services.record_export()."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.search import selectors
from webapp.search.models import Query

CSV_COLUMNS = (
    "rank", "score", "likelihood", "verdict", "video_id", "video", "camera", "video_sha256", "track",
    "start_s", "end_s", "start_wall_clock", "end_wall_clock", "frames",
)  # fmt: skip


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
                "start_wall_clock": wall_text(hit["start_wall"]),
                "end_wall_clock": wall_text(hit["end_wall"]),
                "frames": hit["frames"],
            }
        )
    return rows


def hits_csv(query: Query) -> str:
    return csv_text(hits_rows(query))


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return out.getvalue()


# Text starting with one of these runs as a formula when the CSV is opened in a spreadsheet (OWASP, "CSV
# Injection"): such a cell gets a leading ' so that it is shown as text. Numbers are written as numbers.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return f"'{value}"
    return value


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
        hit["start_wall_text"] = wall_text(hit["start_wall"])
    for video in doc["videos"].values():
        video["recording_start_text"] = wall_text(video["recording_started_at"])
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


def wall_text(iso: str | None) -> str:
    """An ISO 8601 time as people read it in the report and a spreadsheet, in UTC to a tenth of a second:
    "2026-03-14 08:00:00.2 UTC". The JSON export keeps ISO 8601 for programs."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    tenths = (moment.microsecond + 50_000) // 100_000  # half up: 0.25 s reads .3
    moment = moment.replace(microsecond=0) + timedelta(seconds=tenths / 10)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 100_000} UTC"
