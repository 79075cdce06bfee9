"""Thin JSON endpoints for jobs. Every one authorizes through cases.permissions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.permissions import Capability, authorize
from webapp.jobs import selectors, services
from webapp.jobs.events import job_event
from webapp.jobs.models import JobKind
from webapp.jobs.tasks import selfcheck_task


@login_required
@require_GET
def case_jobs(request: HttpRequest, case_id: int) -> JsonResponse:
    return JsonResponse({"jobs": selectors.job_events_for_case(user=request.user, case_id=case_id)})


@login_required
@require_POST
def start_selfcheck(request: HttpRequest, case_id: int) -> JsonResponse:
    access = authorize(request.user, case_id, Capability.UPLOAD)
    job = services.create_and_queue(
        case=access.case, kind=JobKind.SELFCHECK, task=selfcheck_task, created_by=request.user
    )
    audit.record(
        action=AuditAction.JOB_START,
        request=request,
        case=access.case,
        target=job,
        details={"kind": job.kind},
    )
    return JsonResponse(job_event(job), status=201)


@login_required
@require_POST
def cancel(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.job_for(user=request.user, job_id=job_id, capability=Capability.EDIT)
    changed = services.request_cancel(job_id=job.pk, actor=request.user)
    if changed:
        audit.record(action=AuditAction.JOB_CANCEL, request=request, case=job.case, target=job)
    job.refresh_from_db()
    return JsonResponse(job_event(job))


@login_required
@require_POST
def retry(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.job_for(user=request.user, job_id=job_id, capability=Capability.UPLOAD)
    try:
        job = services.retry(job_id=job.pk)
    except services.JobError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    audit.record(action=AuditAction.JOB_RETRY, request=request, case=job.case, target=job)
    return JsonResponse(job_event(job))
