"""Searches by photo (queries) and their ranked results (hits) with the investigators' feedback."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.cases.models import Case
from webapp.footage.models import Track


class QueryOutcome(StrEnum):
    """How a query's last search ended (params["outcome"], unset while one runs): the page's state then."""

    NO_PERSON = "no_person"
    CHOOSE_PERSON = "choose_person"
    RESULTS = "results"
    NO_RESULTS = "no_results"


def query_photo_upload_to(query: Query, filename: str) -> str:
    return f"cases/{query.case_id}/queries/{query.photo_sha256 or 'photo'}.jpg"


class Query(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="queries")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    photo = models.FileField(upload_to=query_photo_upload_to, max_length=500, blank=True)
    photo_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Search parameters as given to the engine: box, top_k, min_score, rerank, model pack...
    params = models.JSONField(default=dict, blank=True)
    refined_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="refinements"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "queries"

    def __str__(self) -> str:
        return f"query {self.pk} in {self.case}"


class Verdict(models.TextChoices):
    NONE = "", "Not reviewed"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


class Hit(models.Model):
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="hits")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="hits")
    score = models.FloatField(help_text="Similarity, higher is more alike.")
    rank = models.PositiveIntegerField()
    start_s = models.FloatField()
    end_s = models.FloatField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices, blank=True, default=Verdict.NONE)
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verdict_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=["query", "track"], name="hit_unique_query_track"),)
        ordering = ("query", "rank")

    def __str__(self) -> str:
        return f"#{self.rank} of {self.query} ({self.score:.2f})"
