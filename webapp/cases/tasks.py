"""Celery tasks of the cases app: one-line wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from webapp.cases import services


@shared_task(name="webapp.cases.tasks.apply_retention")
def apply_retention_task() -> int:
    """Run by Celery beat daily when SIGHTLINE_RETENTION_DAYS is set (see settings.CELERY_BEAT_SCHEDULE)."""
    days = int(settings.SIGHTLINE_RETENTION_DAYS)
    return services.apply_retention(days=days).videos if days > 0 else 0
