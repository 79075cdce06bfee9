"""Retention: footage older than the retention period is deleted, except in cases locked as evidence.

Footage owns it (it deletes videos with their files and vectors); the periodic task and the
`apply_retention` management command call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.services import EvidenceLocked
from webapp.footage import services as footage
from webapp.footage.models import Video


@dataclass(frozen=True)
class RetentionResult:
    videos: int
    cases: int


def apply_retention(*, days: int, now: datetime | None = None) -> RetentionResult:
    """Delete footage uploaded more than `days` ago (with its renditions, crops, tracks and vectors), except
    in cases locked as evidence. Each deletion is audit-logged with the system as the actor."""
    if days < 1:
        raise ValidationError("Retention must keep footage for at least one day.")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Video.objects.filter(created_at__lt=cutoff, case__locked=False).select_related("case")
    cases: set[int] = set()
    count = 0
    for video in old.iterator():
        details = {"video": video.pk, "name": video.original_name, "sha256": video.sha256, "days": days}
        try:
            footage.delete_video(video=video, user=None)
        except EvidenceLocked:  # locked since the query above
            continue
        audit.record(
            action=AuditAction.RETENTION_DELETE, case=video.case, details=details, actor_label="retention"
        )
        cases.add(video.case_id)
        count += 1
    return RetentionResult(videos=count, cases=len(cases))
