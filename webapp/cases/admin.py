from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from webapp.admin_links import admin_changelist_link, admin_link
from webapp.cases import services
from webapp.cases.models import Case, Membership, ShareLink


class MembershipInline(admin.TabularInline[Membership, Case]):
    model = Membership
    fk_name = "case"
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("added_by", "created_at")


class ShareLinkInline(admin.TabularInline[ShareLink, Case]):
    model = ShareLink
    extra = 0
    can_delete = False
    fields = ("token_prefix", "role", "label", "expires_at", "revoked_at", "uses", "created_by")
    readonly_fields = ("token_prefix", "role", "label", "expires_at", "uses", "created_by")

    def has_add_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        return False  # tokens are created in the app, where they are shown once


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    list_display = ("title", "owner_link", "members", "videos", "jobs", "locked", "created_at", "updated_at")
    list_filter = ("locked", "created_at")
    search_fields = ("title", "description", "owner__username", "owner__email")
    date_hierarchy = "created_at"
    autocomplete_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (MembershipInline, ShareLinkInline)
    # Operators may lock a case as evidence; unlocking is its owner's alone (on the case page, audited).
    actions = ("lock_as_evidence",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(
                member_count=Count("memberships", distinct=True),
                video_count=Count("videos", distinct=True),
                job_count=Count("jobs", distinct=True),
            )
        )

    @admin.display(description="owner", ordering="owner__username")
    def owner_link(self, obj: Case) -> str:
        return admin_link(obj.owner)

    @admin.display(description="members", ordering="member_count")
    def members(self, obj: Case) -> str:
        return admin_changelist_link(Membership, str(obj.member_count), case__id__exact=obj.pk)  # type: ignore[attr-defined]

    @admin.display(description="videos", ordering="video_count")
    def videos(self, obj: Case) -> str:
        # Looked up by label: footage and jobs sit above cases (tests/test_layers.py).
        video = apps.get_model("footage", "Video")
        return admin_changelist_link(video, str(obj.video_count), case__id__exact=obj.pk)  # type: ignore[attr-defined]

    @admin.display(description="jobs", ordering="job_count")
    def jobs(self, obj: Case) -> str:
        job = apps.get_model("jobs", "Job")
        return admin_changelist_link(job, str(obj.job_count), case__id__exact=obj.pk)  # type: ignore[attr-defined]

    @admin.action(description="Lock selected cases as evidence (retention keeps them)")
    def lock_as_evidence(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        cases = list(queryset.filter(locked=False))
        for case in cases:
            services.set_locked(case=case, locked=True, actor=request.user, request=request)  # type: ignore[arg-type]
        self.message_user(request, f"Locked {len(cases)} case(s).")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user_link", "case_link", "role", "added_by", "created_at")
    list_filter = ("role", "created_at")
    search_fields = ("user__username", "user__email", "case__title")
    autocomplete_fields = ("user", "case")
    list_select_related = ("user", "case", "added_by")
    readonly_fields = ("added_by", "created_at")

    @admin.display(description="user", ordering="user__username")
    def user_link(self, obj: Membership) -> str:
        return admin_link(obj.user)

    @admin.display(description="case", ordering="case__title")
    def case_link(self, obj: Membership) -> str:
        return admin_link(obj.case)


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin[ShareLink]):
    list_display = (
        "token_prefix",
        "case_link",
        "role",
        "label",
        "expires_at",
        "revoked_at",
        "active",
        "uses",
    )
    list_filter = ("role", "expires_at", "revoked_at")
    search_fields = ("token_prefix", "label", "case__title")
    list_select_related = ("case",)
    readonly_fields = (
        "case",
        "token_prefix",
        "role",
        "created_by",
        "created_at",
        "expires_at",
        "uses",
        "last_used_at",
    )
    exclude = ("token_hash",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created in the app, where the token is shown once

    @admin.display(description="case", ordering="case__title")
    def case_link(self, obj: ShareLink) -> str:
        return admin_link(obj.case)

    @admin.display(boolean=True, description="active")
    def active(self, obj: ShareLink) -> bool:
        return obj.is_active()

    @admin.action(description="Revoke selected links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        count = sum(
            services.revoke_share_link(link=link, actor=request.user, request=request)  # type: ignore[arg-type]
            for link in queryset.select_related("case")
        )
        self.message_user(request, f"Revoked {count} link(s).")
