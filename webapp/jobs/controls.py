"""What a member asks of a job from a page or the API: start the system check, cancel, retry. Each is
audit-logged here (the runner's own cancels, such as a deleted case's, are not a member's request)."""

from __future__ import annotations

from celery import signature
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case
from webapp.jobs import services
from webapp.jobs.models import Job, JobKind

SELFCHECK_TASK = "webapp.jobs.tasks.selfcheck"  # jobs/tasks.py registers it under this name


def start_selfcheck(*, case: Case, request: HttpRequest) -> Job:
    job = services.create_and_queue(
        case=case, kind=JobKind.SELFCHECK, task=signature(SELFCHECK_TASK), created_by=request.user
    )
    audit.record(
        action=AuditAction.JOB_START, request=request, case=case, target=job, details={"kind": job.kind}
    )
    return job


def cancel(*, job: Job, request: HttpRequest) -> bool:
    """Ask the job to stop; audited when that changed anything (a finished job stays as it is)."""
    changed = services.request_cancel(job_id=job.pk, actor=request.user)
    if changed:
        audit.record(action=AuditAction.JOB_CANCEL, request=request, case=job.case, target=job)
    return changed


def retry(
    *, job: Job, actor: AbstractBaseUser | AnonymousUser | None, request: HttpRequest | None = None
) -> Job:
    """Run a failed or cancelled job again (services.JobError otherwise), audited as the actor's retry."""
    job = services.retry(job_id=job.pk)
    audit.record(action=AuditAction.JOB_RETRY, actor=actor, request=request, case=job.case, target=job)
    return job
