"""A video as the pages' JSON shows it: one serializer for the footage panel and the search results."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from webapp.footage.models import Video


def video_json(video: Video) -> dict[str, Any]:
    case_id = video.case_id
    started = video.recording_started_at
    return {
        "id": video.pk,
        "name": video.original_name,
        "camera_label": video.camera_label,
        "label": video.camera_label or video.original_name,
        # UTC; the page shows it in the browser's time zone, naming the zone.
        "recording_started_at": started.isoformat() if started else None,
        "recording_start_source": video.recording_start_source,
        "details_url": reverse("footage:details", args=[case_id, video.pk]),
        "status": video.status,
        "status_label": video.get_status_display(),
        "error": video.error,
        "duration_s": video.duration_s,
        "fps": video.fps,
        "width": video.width,
        "height": video.height,
        "codec": video.codec,
        "size_bytes": video.size_bytes,
        "sha256": video.sha256,
        "poster_url": reverse("footage:poster", args=[case_id, video.pk]) if video.poster else None,
        "stream_url": reverse("footage:stream", args=[case_id, video.pk]) if playable(video) else None,
    }


def playable(video: Video) -> bool:
    # The rendition field names the browser-playable file: rendition.mp4, or the original when it plays as is.
    # The stream view serves nothing else.
    return bool(video.rendition)
