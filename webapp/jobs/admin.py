from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.admin_links import admin_link
from webapp.jobs.models import Job, JobStatus


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = (
        "id",
        "kind",
        "case_link",
        "status",
        "stage",
        "percent",
        "worker",
        "attempts",
        "created_at",
        "duration",
    )
    list_filter = ("kind", "status", "stage", "created_at")
    search_fields = ("case__title", "celery_task_id", "worker", "error")
    date_hierarchy = "created_at"
    list_select_related = ("case", "video", "query")
    readonly_fields = tuple(field.name for field in Job._meta.fields if field.name != "cancel_requested")
    actions = ("cancel", "mark_failed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are started by the app's services, which also queue the task

    @admin.display(description="case", ordering="case__title")
    def case_link(self, obj: Job) -> str:
        return admin_link(obj.case)

    @admin.display(description="progress", ordering="progress")
    def percent(self, obj: Job) -> str:
        return f"{obj.progress * 100:.0f}%"

    @admin.display(description="duration")
    def duration(self, obj: Job) -> str:
        if obj.started_at is None:
            return "-"
        if obj.finished_at is None:
            return "running"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.action(description="Cancel selected jobs (running ones stop at their next step)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        from webapp.jobs import services

        count = sum(services.request_cancel(job_id=job.pk, actor=request.user) for job in queryset)
        self.message_user(request, f"Cancelled {count} job(s).")

    @admin.action(description="Mark selected unfinished jobs as failed (a worker died without saying so)")
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        from webapp.jobs import services

        unfinished = list(queryset.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]))
        for job in unfinished:
            services.fail(job_id=job.pk, error="Stopped by an operator: the worker running it was lost.")
        self.message_user(request, f"Marked {len(unfinished)} job(s) failed.")
