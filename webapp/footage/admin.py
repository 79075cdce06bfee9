from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from webapp.admin_links import ReadOnlyInAdmin, admin_changelist_link, admin_link
from webapp.footage.models import Snapshot, Track, Video


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin[Video]):
    list_display = (
        "__str__",
        "case_link",
        "status",
        "duration",
        "resolution",
        "fps",
        "codec",
        "size",
        "track_count",
        "recording_started_at",
        "created_at",
    )
    list_filter = ("status", "codec", "created_at")
    search_fields = ("original_name", "camera_label", "sha256", "case__title")
    date_hierarchy = "created_at"
    list_select_related = ("case",)
    autocomplete_fields = ("case",)
    readonly_fields = (
        "original",
        "sha256",
        "size_bytes",
        "duration_s",
        "fps",
        "frame_count",
        "width",
        "height",
        "codec",
        "rendition",
        "poster",
        "uploaded_by",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a video comes only through an upload: probed, hashed and queued for analysis

    def has_delete_permission(self, request: HttpRequest, obj: Video | None = None) -> bool:
        return False  # the footage panel deletes a video with its files, vectors and catalog entry

    def get_queryset(self, request: HttpRequest) -> QuerySet[Video]:
        return super().get_queryset(request).annotate(tracks_n=Count("tracks"))

    @admin.display(description="case", ordering="case__title")
    def case_link(self, obj: Video) -> str:
        return admin_link(obj.case)

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj: Video) -> str:
        if obj.duration_s is None:
            return "-"
        minutes, seconds = divmod(round(obj.duration_s), 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: Video) -> str:
        return filesizeformat(obj.size_bytes)

    @admin.display(description="tracks", ordering="tracks_n")
    def track_count(self, obj: Video) -> str:
        return admin_changelist_link(Track, str(obj.tracks_n), video__id__exact=obj.pk)  # type: ignore[attr-defined]


class SnapshotInline(ReadOnlyInAdmin, admin.TabularInline[Snapshot, Track]):
    model = Snapshot
    extra = 0
    can_delete = False
    fields = ("ordinal", "frame", "t", "box", "quality", "crop")
    readonly_fields = fields


@admin.register(Track)
class TrackAdmin(ReadOnlyInAdmin, admin.ModelAdmin[Track]):
    list_display = ("__str__", "video_link", "start_s", "end_s", "best_frame", "snapshot_count")
    list_filter = ("video__case",)
    search_fields = ("video__original_name", "video__camera_label", "video__case__title")
    list_select_related = ("video",)
    readonly_fields = (
        "video",
        "track_id",
        "start_s",
        "end_s",
        "start_frame",
        "end_frame",
        "best_frame",
        "best_t",
        "best_box",
        "thumbnail",
    )
    exclude = ("boxes",)  # can hold thousands of boxes; not for reading in a form
    inlines = (SnapshotInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Track]:
        return super().get_queryset(request).annotate(snapshots_n=Count("snapshots"))

    @admin.display(description="video")
    def video_link(self, obj: Track) -> str:
        return admin_link(obj.video)

    @admin.display(description="snapshots", ordering="snapshots_n")
    def snapshot_count(self, obj: Track) -> int:
        return obj.snapshots_n  # type: ignore[attr-defined,no-any-return]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyInAdmin, admin.ModelAdmin[Snapshot]):
    list_display = ("__str__", "track_link", "frame", "t", "quality")
    search_fields = ("track__video__original_name", "track__video__case__title")
    list_select_related = ("track__video",)
    readonly_fields = ("track", "ordinal", "frame", "t", "box", "quality", "crop")

    @admin.display(description="track")
    def track_link(self, obj: Snapshot) -> str:
        return admin_link(obj.track)
