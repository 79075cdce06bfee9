"""Writes for searches by photo: start a query, pick the person, re-run, add photos; exports recorded.
Verdicts and refining are in feedback.py, the search job's work in work.py, evidence clips in clips.py.

Every function is keyword-only and assumes the caller (a view, a task) already checked the user's right
through webapp.cases.permissions. The web process never loads models: person detection and embedding run
in the search worker; the web side only checks the photo (Pillow) and that the case has something to search.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from celery import signature
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case
from webapp.cases.services import ensure_unlocked
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind
from webapp.search import case_index
from webapp.search.models import Query
from webapp.search.photos import PhotoError, check_photo

logger = logging.getLogger(__name__)

Box = list[float]
# Sent by name (search/tasks.py registers it under this): services never import tasks.
SEARCH_TASK = "webapp.search.tasks.run_search"


class SearchError(Exception):
    """A search request that cannot be done; the message is shown to the user."""


def default_top_k() -> int:
    return int(getattr(settings, "SIGHTLINE_SEARCH_TOP_K", 100))


# --- starting ----------------------------------------------------------------------------------------------


def start_search(
    *,
    user: User | AnonymousUser,
    case: Case,
    photo: bytes,
    box: Box | None = None,
    point: list[float] | None = None,
    request: HttpRequest | None = None,
) -> tuple[Query, Job]:
    """Check the photo and the case, store the query and queue its search. Nothing is stored on refusal.

    box: the person's box in the photo, if the user drew it. point: where the user clicked in the photo (a
    paused video frame): the search is for the person whose detected box holds it.
    """
    try:
        checked = check_photo(photo)
    except PhotoError as exc:
        raise SearchError(str(exc)) from exc
    if box is not None:
        box = clean_box(box, checked.width, checked.height)
    if point is not None:
        point = clean_point(point, checked.width, checked.height)
    ensure_searchable(case.pk)
    with transaction.atomic():
        query = Query(
            case=case,
            created_by=user if user.is_authenticated else None,
            photo_sha256=checked.sha256,
            params={
                "box": box,
                "point": point,
                "top_k": default_top_k(),
                "confirmed": [],
                "rejected": [],
                "photo": {
                    "width": checked.width,
                    "height": checked.height,
                    "format": checked.format,
                    "turned": checked.turned,
                },
            },
        )
        query.photo.save(f"{checked.sha256}.jpg", ContentFile(checked.data), save=False)
        query.save()
        audit.record(
            action=AuditAction.SEARCH_START,
            actor=user,
            case=case,
            target=query,
            request=request,
            details={"photo_sha256": checked.sha256, "box": box},
        )
        job = queue_search(query=query, user=user)
    return query, job


def ensure_searchable(case_id: int) -> None:
    if not case_index.has_searchable_footage(case_id):
        raise SearchError(case_index.EMPTY_CASE_MESSAGE)


def clean_box(box: Any, width: int, height: int) -> Box:
    """A user's box [x, y, w, h] in the photo's pixels, clipped to the photo; refused when too small."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SearchError("The box must be four numbers: x, y, width, height.") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):  # JSON allows NaN and 1e999; PostgreSQL does not
        raise SearchError("The box must be four numbers: x, y, width, height.")
    x0, y0 = max(0.0, min(x, x + w)), max(0.0, min(y, y + h))
    x1, y1 = min(float(width), max(x, x + w)), min(float(height), max(y, y + h))
    if x1 - x0 < 8 or y1 - y0 < 16:
        raise SearchError("The box is too small: draw it around the whole person.")
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def clean_point(point: Any, width: int, height: int) -> list[float]:
    try:
        x, y = (float(v) for v in point)
    except (TypeError, ValueError):
        raise SearchError("The point must be two numbers: x, y.") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise SearchError("The point must be two numbers: x, y.")
    if not (0 <= x <= width and 0 <= y <= height):
        raise SearchError("The point is outside the photo.")
    return [round(x, 1), round(y, 1)]


def pick_at(point: list[float] | None, candidates: list[dict[str, Any]]) -> list[float] | None:
    """The smallest candidate box holding the point (the person clicked, in front of a larger one)."""
    if point is None:
        return None
    x, y = point
    holding = [c["box"] for c in candidates if c["box"][0] <= x <= c["box"][0] + c["box"][2]]
    holding = [b for b in holding if b[1] <= y <= b[1] + b[3]]
    return min(holding, key=lambda b: b[2] * b[3]) if holding else None


def queue_search(*, query: Query, user: User | AnonymousUser) -> Job:
    return jobs.create_and_queue(
        case=query.case, kind=JobKind.SEARCH, task=signature(SEARCH_TASK), created_by=user, query_id=query.pk
    )


def choose_person(
    *, query: Query, user: User | AnonymousUser, box: Any, request: HttpRequest | None = None
) -> Job:
    """Search for the person in the given box of the query's photo (picked among candidates or drawn)."""
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    size = query.params.get("photo", {})
    chosen = clean_box(box, int(size.get("width", 1 << 30)), int(size.get("height", 1 << 30)))
    with transaction.atomic():
        query.params = {**query.params, "box": chosen}
        query.save(update_fields=["params"])
        audit.record(
            action=AuditAction.SEARCH_CHOOSE_PERSON,
            actor=user,
            case=query.case,
            target=query,
            request=request,
            details={"box": chosen},
        )
        return queue_search(query=query, user=user)


def rerun_query(*, query: Query, user: User | AnonymousUser, request: HttpRequest | None = None) -> Job:
    """Run the query again (e.g. after new footage arrived); verdicts on tracks found again are kept."""
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    ensure_searchable(query.case_id)
    with transaction.atomic():
        audit.record(
            action=AuditAction.SEARCH_RERUN, actor=user, case=query.case, target=query, request=request
        )
        return queue_search(query=query, user=user)


MAX_PHOTOS = 4  # photos of one person in one search: the first and up to three more


def add_photo(
    *, query: Query, user: User | AnonymousUser, photo: bytes, request: HttpRequest | None = None
) -> Job:
    """Another photo of the same person (front and back, another camera): stored beside the query's photo,
    fused with it into one query, and the search run again. Nothing is stored on refusal."""
    try:
        checked = check_photo(photo)
    except PhotoError as exc:
        raise SearchError(str(exc)) from exc
    more = list(query.params.get("more_photos", []))
    if 1 + len(more) >= MAX_PHOTOS:
        raise SearchError(f"A search takes at most {MAX_PHOTOS} photos of one person.")
    if checked.sha256 == query.photo_sha256 or any(p["sha256"] == checked.sha256 for p in more):
        raise SearchError("This photo is already part of the search.")
    ensure_unlocked(query.case_id)  # the query's stored hits would be replaced
    ensure_searchable(query.case_id)
    name = f"cases/{query.case_id}/queries/{checked.sha256}.jpg"
    with transaction.atomic():
        if not query.photo.storage.exists(name):
            query.photo.storage.save(name, ContentFile(checked.data))
        more.append(
            {"sha256": checked.sha256, "width": checked.width, "height": checked.height, "file": name}
        )
        save_params(query, more_photos=more)
        audit.record(
            action=AuditAction.SEARCH_PHOTO_ADD,
            actor=user,
            case=query.case,
            target=query,
            request=request,
            details={"photo_sha256": checked.sha256, "photos": 1 + len(more)},
        )
        return queue_search(query=query, user=user)


def extra_photo_path(query: Query, n: int) -> Path | None:
    """The file of the query's n-th added photo (0-based), or None."""
    from pathlib import Path

    more = query.params.get("more_photos", [])
    if not 0 <= n < len(more):
        return None
    return Path(query.photo.storage.path(more[n]["file"]))


def record_results_view(*, query: Query, request: HttpRequest) -> None:
    audit.record(action=AuditAction.SEARCH_RESULTS_VIEW, request=request, case=query.case, target=query)


def record_export(
    *, user: User | AnonymousUser, query: Query, kind: str, request: HttpRequest | None = None, **details: Any
) -> None:
    """Every export (report, CSV, JSON, evidence clip) leaves an audit event."""
    audit.record(
        action=AuditAction(f"search.export.{kind}"),  # ValueError for a kind the log does not know
        actor=user,
        case=query.case,
        target=query,
        request=request,
        details=details,
    )


def save_params(query: Query, **changes: Any) -> None:
    query.params = {**query.params, **changes}
    query.save(update_fields=["params"])
