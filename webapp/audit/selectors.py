"""Reading the audit log, scoped by the requesting user."""

from __future__ import annotations

from django.db.models import QuerySet

from webapp.audit.models import AuditEvent
from webapp.cases.permissions import Capability, User, authorize


def case_events(*, user: User, case_id: int, limit: int = 200) -> QuerySet[AuditEvent]:
    """The case's log, for those allowed to manage the case (the owner)."""
    authorize(user, case_id, Capability.MANAGE)
    return AuditEvent.objects.filter(case_id=case_id).order_by("-created_at", "-id")[:limit]
