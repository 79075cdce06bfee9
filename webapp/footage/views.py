"""HTTP endpoints of the footage app: tus uploads, the video list and details, streaming, job controls.

Thin: each view asks webapp.cases.permissions.authorize() first (a non-member gets 404), then calls a
service (writes) or reads scoped to the authorized case, and turns errors into responses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.cases.permissions import Capability, authorize
from webapp.cases.services import EvidenceLocked
from webapp.footage import selectors, serializers, services
from webapp.footage.forms import VideoDetailsForm
from webapp.footage.models import Video
from webapp.footage.streaming import ranged_file_response
from webapp.footage.uploads import UploadError, UploadInfo, parse_metadata
from webapp.jobs.events import job_event
from webapp.jobs.models import Job, JobKind
from webapp.strict_input import ascii_int

TUS_VERSION = "1.0.0"
_READ_BLOCK = 1024 * 1024


# --- tus 1.0 -----------------------------------------------------------------------------------------------


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _tus_error(error: UploadError) -> HttpResponse:
    return _tus(HttpResponse(error.message, status=error.status, content_type="text/plain; charset=utf-8"))


def _options() -> HttpResponse:
    response = _tus(HttpResponse(status=204))
    response["Tus-Version"] = TUS_VERSION
    response["Tus-Extension"] = "creation,termination,expiration"
    response["Tus-Max-Size"] = str(services.upload_store().max_bytes)
    return response


@require_http_methods(["POST", "OPTIONS"])
def uploads(request: HttpRequest, case_id: int) -> HttpResponse:
    """tus creation: POST with Upload-Length (and Upload-Metadata) answers 201 with the upload's Location."""
    access = authorize(request.user, case_id, Capability.UPLOAD)
    if request.method == "OPTIONS":
        return _options()
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _version_mismatch()
    try:
        length = ascii_int(request.headers.get("Upload-Length", ""))
        if length is None:
            raise UploadError(400, "Upload-Length is required (deferred lengths are not supported).")
        info = services.upload_store().create(
            case_id=access.case.pk,
            user_id=int(request.user.pk or 0),  # authorize() let only signed-in users through
            length=length,
            metadata=parse_metadata(request.headers.get("Upload-Metadata", "")),
        )
    except UploadError as exc:
        return _tus_error(exc)
    response = _tus(HttpResponse(status=201))
    response["Location"] = reverse("footage:upload", args=[case_id, info.id])
    response["Upload-Expires"] = _http_date(info.expires_at)
    return response


@require_http_methods(["HEAD", "PATCH", "DELETE", "OPTIONS"])
def upload(request: HttpRequest, case_id: int, upload_id: str) -> HttpResponse:
    """tus core: HEAD tells the offset, PATCH appends at it, DELETE abandons the upload."""
    access = authorize(request.user, case_id, Capability.UPLOAD)
    if request.method == "OPTIONS":
        return _options()
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _version_mismatch()
    store = services.upload_store()
    try:
        if request.method == "DELETE":
            # The uploader abandons it, or the owner cancels any upload to the case.
            services.upload_for(
                case=access.case,
                user=request.user,
                upload_id=upload_id,
                as_owner=access.allows(Capability.MANAGE),
            )
            store.terminate(upload_id)
            return _tus(HttpResponse(status=204))
        info = services.upload_for(case=access.case, user=request.user, upload_id=upload_id)
        if request.method == "HEAD":
            return _offset_response(_tus(HttpResponse(status=200)), info)
        if request.content_type != "application/offset+octet-stream":
            raise UploadError(415, "PATCH bodies must be application/offset+octet-stream.")
        offset = ascii_int(request.headers.get("Upload-Offset", ""))
        if offset is None:
            raise UploadError(400, "Upload-Offset is required.")
        info = store.append(upload_id, offset=offset, chunks=_body(request))
    except UploadError as exc:
        return _tus_error(exc)
    return _offset_response(_tus(HttpResponse(status=204)), info)


def _body(request: HttpRequest) -> Any:
    while True:
        block = request.read(_READ_BLOCK)
        if not block:
            return
        yield block


def _offset_response(response: HttpResponse, info: UploadInfo) -> HttpResponse:
    response["Upload-Offset"] = str(info.offset)
    response["Upload-Length"] = str(info.length)
    response["Upload-Expires"] = _http_date(info.expires_at)
    return response


def _version_mismatch() -> HttpResponse:
    response = HttpResponse("Tus-Resumable 1.0.0 is required.", status=412)
    response["Tus-Version"] = TUS_VERSION
    return response


def _http_date(epoch: float) -> str:
    from django.utils.http import http_date

    return http_date(epoch)


# --- videos ------------------------------------------------------------------------------------------------


@require_POST
def complete_upload(request: HttpRequest, case_id: int, upload_id: str) -> JsonResponse:
    """Turn a finished upload into a video (probed, queued for analysis) or reject it with a message."""
    access = authorize(request.user, case_id, Capability.UPLOAD)
    try:
        video = services.create_video_from_upload(
            user=request.user,
            case=access.case,
            upload_id=upload_id,
            camera_label=request.POST.get("camera_label", ""),
            request=request,
        )
    except UploadError as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    except services.FootageError as exc:
        return JsonResponse({"error": str(exc)}, status=422)
    return JsonResponse({"video": video_json(video)}, status=201)


@require_GET
def video_list(request: HttpRequest, case_id: int) -> JsonResponse:
    videos = selectors.videos_for_case(user=request.user, case_id=case_id)
    return JsonResponse({"videos": [video_json(v) for v in videos]})


def video_json(video: Video) -> dict[str, Any]:
    """The footage panel's video: the shared serializer and its latest analysis job."""
    job = video.jobs.filter(kind=JobKind.INGEST).order_by("-created_at").first()
    return {**serializers.video_json(video), "job": job_json(job) if job else None}


def job_json(job: Job) -> dict[str, Any]:
    return job_event(job)


def _video(request: HttpRequest, case_id: int, video_id: int, capability: Capability) -> Video:
    return selectors.video_for(user=request.user, case_id=case_id, video_id=video_id, capability=capability)


@require_http_methods(["GET", "HEAD"])
def stream(request: HttpRequest, case_id: int, video_id: int) -> HttpResponseBase:
    """The browser-playable file (the rendition, or the original when it plays as is), with Range."""
    video = _video(request, case_id, video_id, Capability.VIEW)
    if not video.rendition:
        return HttpResponse("This video is not ready to play yet.", status=409)
    path = _media_path(video.rendition.name)
    # MP4 and QuickTime share a container: Chromium plays H.264 from either when it is called video/mp4.
    mp4 = path.suffix.lower() in {".mp4", ".m4v", ".mov"}
    return ranged_file_response(request, path, content_type="video/mp4" if mp4 else None)


@require_http_methods(["GET", "HEAD"])
def poster(request: HttpRequest, case_id: int, video_id: int) -> HttpResponseBase:
    video = _video(request, case_id, video_id, Capability.VIEW)
    if not video.poster:
        return HttpResponse(status=404)
    return ranged_file_response(request, _media_path(video.poster.name), content_type="image/jpeg")


def _media_path(name: str | None) -> Path:
    return Path(settings.MEDIA_ROOT) / (name or "")


@require_POST
def video_details(request: HttpRequest, case_id: int, video_id: int) -> JsonResponse:
    """Set or clear the camera label and the recording start (editors and the owner; the service audits)."""
    video = _video(request, case_id, video_id, Capability.EDIT)
    form = VideoDetailsForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": form.first_error()}, status=400)
    changes: dict[str, Any] = {}
    if form.sets_label:
        changes["camera_label"] = form.cleaned_data["camera_label"]
    if form.sets_start:
        changes["recording_started_at"] = form.cleaned_data["recording_started_at"]
        changes["entered_as"] = form.cleaned_data.get("entered_as", "")
    try:
        video = services.update_video_details(video=video, actor=request.user, request=request, **changes)
    except EvidenceLocked as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"video": video_json(video)})


@require_POST
def delete_video(request: HttpRequest, case_id: int, video_id: int) -> JsonResponse:
    video = _video(request, case_id, video_id, Capability.EDIT)
    try:
        services.remove_video(video=video, request=request)
    except EvidenceLocked as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"deleted": video_id})


@require_POST
def retry_video(request: HttpRequest, case_id: int, video_id: int) -> JsonResponse:
    video = _video(request, case_id, video_id, Capability.UPLOAD)
    try:
        job = services.retry_ingest(video=video, request=request)
    except services.FootageError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"job": job_json(job)}, status=202)
