"""Reads for footage, always scoped by the requesting user through cases.permissions."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from webapp.cases.permissions import Capability, CaseNotFound, User, authorize
from webapp.footage.models import Track, Video


def videos_for_case(*, user: User, case_id: int) -> QuerySet[Video]:
    authorize(user, case_id, Capability.VIEW)
    return (
        Video.objects.filter(case_id=case_id)
        .annotate(track_count=Count("tracks"))
        .order_by("recording_started_at", "created_at")
    )


def video_for(*, user: User, case_id: int, video_id: int, capability: Capability = Capability.VIEW) -> Video:
    """A video of a case the user may act on; a video of another case is the same 404 as a missing one."""
    access = authorize(user, case_id, capability)
    video = Video.objects.filter(pk=video_id, case=access.case).first()
    if video is None:
        raise CaseNotFound
    return video


def tracks_for_video(*, user: User, case_id: int, video_id: int) -> QuerySet[Track]:
    video = video_for(user=user, case_id=case_id, video_id=video_id)
    return Track.objects.filter(video=video).order_by("start_s")
