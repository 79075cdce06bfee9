"""HTTP endpoints of the search app (JSON for the case page, files for exports).

Thin: each view authorizes through webapp.cases.permissions (outsiders get 404), then calls a selector or a
service and turns SearchError / PhotoError / ExportError into a 4xx answer with the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.cases.permissions import Capability, authorize
from webapp.cases.services import EvidenceLocked
from webapp.footage.streaming import ranged_file_response
from webapp.jobs.events import job_event
from webapp.jobs.models import JobStatus
from webapp.search import clip_cut, clips, exports, feedback, photos, selectors, services
from webapp.search.models import Query
from webapp.strict_input import json_object


def _error(message: str, status: int = 422) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _field(request: HttpRequest, name: str) -> Any:
    """A form field, or the key of a JSON object body (any other body is a 400, see json_object)."""
    raw: Any = request.POST.get(name)
    if raw is None and request.content_type == "application/json":
        raw = json_object(request).get(name)
    return raw


def _box(request: HttpRequest, name: str = "box") -> Any:
    raw = _field(request, name)
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        raw = [v for v in raw.replace("[", "").replace("]", "").split(",") if v.strip()]
    return raw


def _uploaded_photo(request: HttpRequest, missing: str) -> bytes | JsonResponse:
    """The bytes of the request's "photo" file, or the 4xx answer saying why there are none."""
    upload = request.FILES.get("photo")
    if upload is None:
        return _error(missing, 400)
    if upload.size is not None and upload.size > photos.max_bytes():
        return _error(f"The photo is larger than {photos.max_bytes() / 1e6:.0f} MB.", 413)
    return bytes(upload.read())


def _file_or_404(path: Path | None) -> HttpResponseBase:
    if path is None or not path.is_file():
        return HttpResponse(status=404)
    return FileResponse(open(path, "rb"))


def _started(query: Query, job: Any) -> JsonResponse:
    return JsonResponse({"query": selectors.query_json(query, job), "job": job_event(job)}, status=202)


@require_http_methods(["GET", "POST"])
def queries(request: HttpRequest, case_id: int) -> JsonResponse:
    """GET: the case's queries, newest first. POST (multipart "photo", optional "box"): a new search."""
    if request.method == "GET":
        return JsonResponse({"queries": selectors.query_list_json(user=request.user, case_id=case_id)})
    access = authorize(request.user, case_id, Capability.SEARCH)
    photo = _uploaded_photo(request, "Drop or choose a photo of the person to search for.")
    if isinstance(photo, JsonResponse):
        return photo
    try:
        query, job = services.start_search(
            user=request.user,
            case=access.case,
            photo=photo,
            box=_box(request),
            point=_box(request, "point"),
            request=request,
        )
    except services.SearchError as exc:
        return _error(str(exc))
    return _started(query, job)


@require_GET
def query_results(request: HttpRequest, case_id: int, query_id: int) -> JsonResponse:
    document = selectors.results(user=request.user, case_id=case_id, query_id=query_id)
    # A results view is logged once the results exist, not for each poll of a search still running.
    if ((document.get("query") or {}).get("job") or {}).get("status") not in ("queued", "running"):
        query = selectors.query_for(user=request.user, case_id=case_id, query_id=query_id)
        services.record_results_view(query=query, request=request)
    return JsonResponse(document)


@require_GET
def query_photo(request: HttpRequest, case_id: int, query_id: int) -> HttpResponseBase:
    query = selectors.query_for(user=request.user, case_id=case_id, query_id=query_id)
    return _file_or_404(Path(query.photo.path) if query.photo else None)


@require_POST
def choose(request: HttpRequest, case_id: int, query_id: int) -> JsonResponse:
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.SEARCH
    )
    try:
        job = services.choose_person(query=query, user=request.user, box=_box(request), request=request)
    except services.SearchError as exc:
        return _error(str(exc))
    except EvidenceLocked as exc:
        return _error(str(exc), 409)
    return _started(query, job)


@require_POST
def rerun(request: HttpRequest, case_id: int, query_id: int) -> JsonResponse:
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.SEARCH
    )
    try:
        job = services.rerun_query(query=query, user=request.user, request=request)
    except services.SearchError as exc:
        return _error(str(exc))
    except EvidenceLocked as exc:
        return _error(str(exc), 409)
    return _started(query, job)


@require_POST
def add_photo(request: HttpRequest, case_id: int, query_id: int) -> JsonResponse:
    """POST (multipart "photo"): another photo of the same person, fused with the query's."""
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.SEARCH
    )
    photo = _uploaded_photo(request, "Choose another photo of the same person.")
    if isinstance(photo, JsonResponse):
        return photo
    try:
        job = services.add_photo(query=query, user=request.user, photo=photo, request=request)
    except services.SearchError as exc:
        return _error(str(exc))
    except EvidenceLocked as exc:
        return _error(str(exc), 409)
    return _started(query, job)


@require_GET
def extra_photo(request: HttpRequest, case_id: int, query_id: int, n: int) -> HttpResponseBase:
    query = selectors.query_for(user=request.user, case_id=case_id, query_id=query_id)
    return _file_or_404(services.extra_photo_path(query, n))


@require_POST
def refine(request: HttpRequest, case_id: int, query_id: int) -> JsonResponse:
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.SEARCH
    )
    try:
        refined, job = feedback.refine_query(query=query, user=request.user, request=request)
    except services.SearchError as exc:
        return _error(str(exc))
    return _started(refined, job)


@require_POST
def verdict(request: HttpRequest, case_id: int, hit_id: int) -> JsonResponse:
    hit = selectors.hit_for(user=request.user, case_id=case_id, hit_id=hit_id, capability=Capability.REVIEW)
    value = _field(request, "verdict")
    if not isinstance(value, str):  # missing, or not text: nothing is changed
        return _error("A verdict is 'confirmed', 'rejected' or '' (not reviewed).", 400)
    try:
        feedback.set_verdict(hit=hit, user=request.user, verdict=value, request=request)
    except services.SearchError as exc:
        return _error(str(exc), 400)
    except EvidenceLocked as exc:
        return _error(str(exc), 409)
    models = selectors.models_json(hit.query.params)
    return JsonResponse({"hit": selectors.hit_json(hit, models)})


@require_GET
def thumb(request: HttpRequest, case_id: int, hit_id: int) -> HttpResponseBase:
    hit = selectors.hit_for(user=request.user, case_id=case_id, hit_id=hit_id)
    if not hit.track.thumbnail:
        return HttpResponse(status=404)
    response = FileResponse(open(hit.track.thumbnail.path, "rb"), content_type="image/jpeg")  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- exports --------------------------------------------------------------------------------------------


@require_GET
def report(request: HttpRequest, case_id: int, query_id: int) -> HttpResponse:
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.EXPORT
    )
    context = exports.report_context(query)
    services.record_export(
        user=request.user, query=query, kind="report", request=request, moments=len(context["moments"])
    )
    return render(request, "search/report.html", {**context, "viewer": request.user})


@require_GET
def export(request: HttpRequest, case_id: int, query_id: int, fmt: str) -> HttpResponse:
    query = selectors.query_for(
        user=request.user, case_id=case_id, query_id=query_id, capability=Capability.EXPORT
    )
    if fmt not in ("csv", "json"):
        raise Http404("Exports are CSV or JSON.")
    if fmt == "csv":
        body, content_type = exports.hits_csv(query), "text/csv; charset=utf-8"
    else:
        body, content_type = exports.hits_json(query), "application/json"
    services.record_export(user=request.user, query=query, kind=fmt, request=request)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="case{case_id}-query{query_id}-hits.{fmt}"'
    return response


@require_POST
def clip(request: HttpRequest, case_id: int, hit_id: int) -> JsonResponse:
    """Ask for the moment's evidence clip: 202 with the export job that cuts it (progress comes over the case
    websocket), or 200 when the same clip was made before and its file is unchanged."""
    hit = selectors.hit_for(user=request.user, case_id=case_id, hit_id=hit_id, capability=Capability.EXPORT)
    job = clips.request_clip(hit=hit, user=request.user, request=request)
    return JsonResponse(selectors.clip_json(job), status=200 if job.status == JobStatus.DONE else 202)


@require_GET
def clip_status(request: HttpRequest, case_id: int, job_id: int) -> JsonResponse:
    job = selectors.clip_job_for(user=request.user, case_id=case_id, job_id=job_id)
    return JsonResponse(selectors.clip_json(job))


@require_GET
def clip_file(request: HttpRequest, case_id: int, job_id: int) -> HttpResponseBase:
    """The clip's file, streamed as footage is (Range, X-Accel-Redirect) once its sha256 is checked again;
    each download is audit-logged as an export."""
    job = selectors.clip_job_for(user=request.user, case_id=case_id, job_id=job_id)
    if job.status != JobStatus.DONE:
        return _error("The clip is not ready yet.", 409)
    try:
        made = clip_cut.stored_clip(job.params.get("result"))
    except clip_cut.ExportError as exc:
        return _error(str(exc), 409)
    clips.record_clip_download(user=request.user, job=job, clip=made, request=request)
    response = ranged_file_response(request, made.path, content_type="video/mp4")
    response["Content-Disposition"] = f'attachment; filename="{made.path.name}"'
    response["X-Content-SHA256"] = made.sha256
    return response
