from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from webapp.admin_links import admin_link
from webapp.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: operators may look, nobody may add, change or delete."""

    list_display = ("created_at", "actor_label", "action", "case_ref", "target", "client_address")
    list_filter = ("action", "created_at")
    search_fields = ("actor_label", "case_label", "action", "target_id", "client_address")
    date_hierarchy = "created_at"
    list_per_page = 100
    list_select_related = ("case",)  # a LEFT JOIN: a deleted case comes back as None
    readonly_fields = tuple(field.name for field in AuditEvent._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="case", ordering="case_label")
    def case_ref(self, obj: AuditEvent) -> str:
        if obj.case_id is None:
            return "-"
        if obj.case is None:
            return f"{obj.case_label} (deleted, #{obj.case_id})"
        return admin_link(obj.case)

    @admin.display(description="target")
    def target(self, obj: AuditEvent) -> str:
        return f"{obj.target_type} {obj.target_id}".strip() or "-"
