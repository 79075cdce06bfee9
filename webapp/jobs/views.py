"""Thin JSON endpoints for jobs. Every one authorizes through cases.permissions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from webapp.cases.permissions import Capability, authorize
from webapp.jobs import controls, selectors, services
from webapp.jobs.events import job_event


@login_required
@require_GET
def case_jobs(request: HttpRequest, case_id: int) -> JsonResponse:
    return JsonResponse({"jobs": selectors.job_events_for_case(user=request.user, case_id=case_id)})


@login_required
@require_POST
def start_selfcheck(request: HttpRequest, case_id: int) -> JsonResponse:
    access = authorize(request.user, case_id, Capability.UPLOAD)
    return JsonResponse(job_event(controls.start_selfcheck(case=access.case, request=request)), status=201)


@login_required
@require_POST
def cancel(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.job_for(user=request.user, job_id=job_id, capability=Capability.EDIT)
    controls.cancel(job=job, request=request)
    job.refresh_from_db()
    return JsonResponse(job_event(job))


@login_required
@require_POST
def retry(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.job_for(user=request.user, job_id=job_id, capability=Capability.UPLOAD)
    try:
        job = controls.retry(job=job, actor=request.user, request=request)
    except services.JobError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse(job_event(job))
