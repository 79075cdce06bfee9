"""Videos of a case and what ingestion found in them: tracks of people and their snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.cases.models import Case


def video_dir(video: Video) -> str:
    return f"cases/{video.case_id}/videos/{video.pk}"


def original_upload_to(video: Video, filename: str) -> str:
    # The client's file name is never used on disk (only its extension, cleaned by the footage app).
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"{video_dir(video)}/original.{suffix}"


def rendition_upload_to(video: Video, filename: str) -> str:
    return f"{video_dir(video)}/rendition.mp4"


def poster_upload_to(video: Video, filename: str) -> str:
    return f"{video_dir(video)}/poster.jpg"


def thumbnail_upload_to(track: Track, filename: str) -> str:
    return f"{video_dir(track.video)}/crops/track-{track.track_id}.jpg"


def crop_upload_to(snapshot: Snapshot, filename: str) -> str:
    return f"{video_dir(snapshot.track.video)}/crops/track-{snapshot.track.track_id}-{snapshot.ordinal}.jpg"


class VideoStatus(models.TextChoices):
    PROCESSING = "processing", "Checking and converting"
    INGESTING = "ingesting", "Finding people"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class RecordingStartSource(models.TextChoices):
    NONE = "", "Unknown"
    FILE = "file", "From the file's creation time"
    USER = "user", "Set by a person"


class Video(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="videos")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    original_name = models.CharField(max_length=255, help_text="The file name as uploaded (display only).")
    original = models.FileField(upload_to=original_upload_to, max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    # Filled by probing; null until then.
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    recording_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Wall-clock time of the first frame, when known."
    )
    # Where recording_started_at came from, so the page can say a date read from the file is unchecked.
    recording_start_source = models.CharField(
        max_length=4, choices=RecordingStartSource.choices, default=RecordingStartSource.NONE, blank=True
    )
    camera_label = models.CharField(max_length=200, blank=True)
    rendition = models.FileField(upload_to=rendition_upload_to, max_length=500, blank=True)
    poster = models.FileField(upload_to=poster_upload_to, max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=VideoStatus.choices, default=VideoStatus.PROCESSING)
    error = models.TextField(blank=True, help_text="Why processing failed, in words a user can act on.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("case", "recording_started_at", "created_at")
        indexes = (models.Index(fields=["case", "status"]),)

    def __str__(self) -> str:
        return self.camera_label or self.original_name

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else ""


class Track(models.Model):
    """One person followed through consecutive frames of one video."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="tracks")
    track_id = models.PositiveIntegerField(help_text="The engine's track number within the video.")
    start_s = models.FloatField()
    end_s = models.FloatField()
    start_frame = models.PositiveIntegerField()
    end_frame = models.PositiveIntegerField()
    best_frame = models.PositiveIntegerField()
    best_t = models.FloatField()
    best_box = models.JSONField(help_text="[x, y, w, h] in source pixels of the best frame.")
    # Per-frame boxes for the player overlay: [[frame, t, x, y, w, h], ...].
    boxes = models.JSONField(default=list, blank=True)
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=500, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["video", "track_id"], name="track_unique_video_track"),
        )
        ordering = ("video", "start_s")

    def __str__(self) -> str:
        return f"track {self.track_id} of {self.video}"


class Snapshot(models.Model):
    """An embedded crop of a track; (video, track_id, ordinal) is its key in the case's vector index."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="snapshots")
    ordinal = models.PositiveSmallIntegerField(
        help_text="Snapshot number within the track (VectorKey.snapshot)."
    )
    frame = models.PositiveIntegerField()
    t = models.FloatField()
    box = models.JSONField(help_text="[x, y, w, h] in source pixels.")
    quality = models.FloatField(null=True, blank=True)
    crop = models.FileField(upload_to=crop_upload_to, max_length=500, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["track", "ordinal"], name="snapshot_unique_track_ordinal"),
        )
        ordering = ("track", "ordinal")

    def __str__(self) -> str:
        return f"snapshot {self.ordinal} of {self.track}"
