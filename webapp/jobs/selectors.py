"""Reads for jobs, scoped by the requesting user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from webapp.cases.permissions import Capability, User, authorize
from webapp.jobs.events import job_event
from webapp.jobs.models import FINISHED_STATUSES, Job


def jobs_for_case(*, user: User, case_id: int, limit: int = 50) -> QuerySet[Job]:
    authorize(user, case_id, Capability.VIEW)
    return Job.objects.filter(case_id=case_id).order_by("-created_at")[:limit]


def job_events_for_case(*, user: User, case_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The case's current job state in the event shape: what a page loads on open and after reconnecting."""
    return [job_event(job) for job in jobs_for_case(user=user, case_id=case_id, limit=limit)]


def job_for(*, user: User, job_id: int, capability: Capability = Capability.VIEW) -> Job:
    """A job the user may act on; a job of a case they cannot see is the same 404 as a missing one."""
    from webapp.cases.permissions import CaseNotFound

    job = Job.objects.filter(pk=job_id).only("id", "case_id").first()
    if job is None:
        raise CaseNotFound
    authorize(user, job.case_id, capability)
    return Job.objects.get(pk=job_id)


def active_count(*, case_id: int) -> int:
    return Job.objects.filter(case_id=case_id).exclude(status__in=FINISHED_STATUSES).count()
