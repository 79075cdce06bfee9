"""Feedback on a query's results: a verdict on each hit, and a refined query that uses them."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.services import ensure_unlocked
from webapp.jobs.models import Job
from webapp.search.models import Hit, Query, Verdict
from webapp.search.services import SearchError, queue_search

HIT_ACTIONS = {
    Verdict.CONFIRMED: AuditAction.HIT_CONFIRMED,
    Verdict.REJECTED: AuditAction.HIT_REJECTED,
    Verdict.NONE: AuditAction.HIT_CLEAR,
}


def set_verdict(
    *, hit: Hit, user: User | AnonymousUser, verdict: str, request: HttpRequest | None = None
) -> Hit:
    if verdict not in Verdict.values:
        raise SearchError("A verdict is 'confirmed', 'rejected' or '' (not reviewed).")
    ensure_unlocked(hit.query.case_id)
    with transaction.atomic():
        hit.verdict = verdict
        hit.verdict_by = user if verdict and isinstance(user, User) else None
        hit.verdict_at = timezone.now() if verdict else None
        hit.save(update_fields=["verdict", "verdict_by", "verdict_at"])
        audit.record(
            action=HIT_ACTIONS[Verdict(verdict)],
            actor=user,
            case=hit.query.case,
            target=hit,
            request=request,
            details={
                "query": hit.query_id,
                "video": hit.track.video_id,
                "track": hit.track.track_id,
                "rank": hit.rank,
                "score": round(hit.score, 4),
            },
        )
    return hit


def _track_key(hit: Hit) -> list[int]:
    return [hit.track.video_id, hit.track.track_id]


def refine_query(
    *, query: Query, user: User | AnonymousUser, request: HttpRequest | None = None
) -> tuple[Query, Job]:
    """A new query from the same photo and person that uses the confirmed hits (query expansion) and leaves
    the rejected ones out; feedback given to earlier refinements carries over."""
    hits = list(query.hits.select_related("track"))
    confirmed = {tuple(k) for k in query.params.get("confirmed", [])}
    rejected = {tuple(k) for k in query.params.get("rejected", [])}
    for hit in hits:
        key = tuple(_track_key(hit))
        if hit.verdict == Verdict.CONFIRMED:
            confirmed.add(key)
            rejected.discard(key)
        elif hit.verdict == Verdict.REJECTED:
            rejected.add(key)
            confirmed.discard(key)
    if not confirmed and not rejected:
        raise SearchError("Confirm or reject at least one result before refining the search.")
    with transaction.atomic():
        refined = Query(
            case=query.case,
            created_by=user if user.is_authenticated else None,
            photo_sha256=query.photo_sha256,
            refined_from=query,
            params={
                **query.params,
                "outcome": None,
                "confirmed": sorted([list(k) for k in confirmed]),
                "rejected": sorted([list(k) for k in rejected]),
            },
        )
        refined.photo.name = query.photo.name  # the same stored photo
        refined.save()
        audit.record(
            action=AuditAction.SEARCH_REFINE,
            actor=user,
            case=query.case,
            target=refined,
            request=request,
            details={"from": query.pk, "confirmed": len(confirmed), "rejected": len(rejected)},
        )
        job = queue_search(query=refined, user=user)
    return refined, job
