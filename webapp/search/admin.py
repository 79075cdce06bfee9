from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from webapp.admin_links import ReadOnlyInAdmin, admin_changelist_link, admin_link
from webapp.search.models import Hit, Query, Verdict


@admin.register(Query)
class QueryAdmin(ReadOnlyInAdmin, admin.ModelAdmin[Query]):
    list_display = ("__str__", "case_link", "created_by", "created_at", "last_run_at", "hit_count")
    list_filter = ("created_at",)
    search_fields = ("case__title", "created_by__username", "photo_sha256")
    date_hierarchy = "created_at"
    list_select_related = ("case", "created_by")
    readonly_fields = ("case", "created_by", "photo", "photo_sha256", "params", "refined_from", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Query]:
        return super().get_queryset(request).annotate(hits_n=Count("hits"))

    @admin.display(description="case", ordering="case__title")
    def case_link(self, obj: Query) -> str:
        return admin_link(obj.case)

    @admin.display(description="hits", ordering="hits_n")
    def hit_count(self, obj: Query) -> str:
        return admin_changelist_link(Hit, str(obj.hits_n), query__id__exact=obj.pk)  # type: ignore[attr-defined]


@admin.register(Hit)
class HitAdmin(ReadOnlyInAdmin, admin.ModelAdmin[Hit]):
    list_display = ("__str__", "query_link", "track_link", "rank", "score", "start_s", "end_s", "verdict")
    list_filter = ("verdict",)
    search_fields = ("query__case__title",)
    list_select_related = ("query__case", "track__video")
    readonly_fields = ("query", "track", "score", "rank", "start_s", "end_s", "verdict_by", "verdict_at")
    actions = ("clear_verdicts",)

    @admin.display(description="query")
    def query_link(self, obj: Hit) -> str:
        return admin_link(obj.query)

    @admin.display(description="track")
    def track_link(self, obj: Hit) -> str:
        return admin_link(obj.track)

    @admin.action(description="Clear the confirm/reject verdict of selected hits")
    def clear_verdicts(self, request: HttpRequest, queryset: QuerySet[Hit]) -> None:
        count = queryset.update(verdict=Verdict.NONE, verdict_by=None, verdict_at=None)
        self.message_user(request, f"Cleared {count} verdict(s).")
