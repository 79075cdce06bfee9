"""Reads for cases, always scoped by the requesting user."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from webapp.audit.models import AuditEvent
from webapp.cases.models import Case, Membership, ShareLink
from webapp.cases.permissions import Capability, CaseAccess, User, authorize


def cases_for(*, user: User) -> QuerySet[Case]:
    """Cases the user belongs to, newest activity first, with the user's role and counts for the list page."""
    if not user.is_authenticated:
        return Case.objects.none()
    role = Membership.objects.filter(case=OuterRef("pk"), user_id=user.pk).values("role")[:1]
    return (
        # A subquery, not a join: filtering on memberships would make the member count see one row.
        Case.objects.filter(pk__in=Membership.objects.filter(user_id=user.pk).values("case_id"))
        .select_related("owner")
        .annotate(
            my_role=Subquery(role),
            video_count=Count("videos", distinct=True),
            member_count=Count("memberships", distinct=True),
        )
        .order_by("-updated_at")
    )


def case_for(*, user: User, case_id: int, capability: Capability = Capability.VIEW) -> CaseAccess:
    return authorize(user, case_id, capability)


def members(*, user: User, case_id: int) -> QuerySet[Membership]:
    authorize(user, case_id, Capability.VIEW)
    return (
        Membership.objects.filter(case_id=case_id).select_related("user").order_by("role", "user__username")
    )


def share_links(*, user: User, case_id: int) -> QuerySet[ShareLink]:
    authorize(user, case_id, Capability.SHARE)
    return ShareLink.objects.filter(case_id=case_id).select_related("created_by").order_by("-created_at")


def active_share_link(*, token: str) -> ShareLink | None:
    """The live link this token opens (the token is the credential), or None: unknown, expired and revoked
    links look the same."""
    from webapp.cases.services import hash_token

    link = ShareLink.objects.select_related("case").filter(token_hash=hash_token(token)).first()
    return link if link is not None and link.is_active() else None


def share_link_named(*, token: str) -> ShareLink | None:
    """The link this token names, live or not: failed redemptions are recorded against its case, so the
    owner sees attempts on revoked and expired links. Never shown to the visitor."""
    from webapp.cases.services import hash_token

    return ShareLink.objects.select_related("case").filter(token_hash=hash_token(token)).first()


def audit_events(*, user: User, case_id: int, limit: int = 200) -> QuerySet[AuditEvent]:
    """The case's log, for those allowed to manage the case (the owner)."""
    authorize(user, case_id, Capability.MANAGE)
    return AuditEvent.objects.filter(case_id=case_id).order_by("-created_at", "-id")[:limit]
