"""Background jobs. The row is the truth: pages load it on open; the websocket tells them it changed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.cases.models import Case


class JobKind(models.TextChoices):
    INGEST = "ingest", "Ingest footage"
    SEARCH = "search", "Search by photo"
    SELFCHECK = "selfcheck", "System check"
    EXPORT = "export", "Export"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=30, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1 within the whole job.")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    fps = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="A message the user can act on.")
    # Seconds spent per stage, e.g. {"probe": 0.4, "detect": 31.2}.
    timings = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    video = models.ForeignKey(
        "footage.Video", on_delete=models.CASCADE, null=True, blank=True, related_name="jobs"
    )
    query = models.ForeignKey(
        "search.Query", on_delete=models.CASCADE, null=True, blank=True, related_name="jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    celery_task_id = models.CharField(max_length=50, blank=True, db_index=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Host name of the worker that ran it.")
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["case", "status"]), models.Index(fields=["status", "created_at"]))

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES
