"""Pages and JSON endpoints of the foundation: login required, 404 for outsiders, state in the event shape."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from webapp.jobs.models import Job, JobKind, JobStatus


def test_pages_need_login(client: Any, case: Any) -> None:
    for url in ("/", "/cases/new/", f"/cases/{case.pk}/", f"/cases/{case.pk}/jobs/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_case_list_and_creation(client: Any, owner: Any) -> None:
    client.force_login(owner)
    assert "no cases yet" in client.get("/").content.decode()
    response = client.post("/cases/new/", {"title": "Night bus", "description": ""})
    assert response.status_code == 302
    listing = client.get("/").content.decode()
    assert "Night bus" in listing
    assert client.post("/cases/new/", {"title": ""}).status_code == 200  # form shown again with the error


def test_outsider_gets_404_everywhere(client: Any, case: Any, make_user: Any) -> None:
    client.force_login(make_user())
    job = Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    assert client.get(f"/cases/{case.pk}/jobs/").status_code == 404
    assert client.post(f"/cases/{case.pk}/jobs/selfcheck/").status_code == 404
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    assert client.post(f"/jobs/{job.pk + 100}/cancel/").status_code == 404


def test_viewer_sees_state_but_cannot_start_or_cancel(client: Any, case: Any, member_of: Any) -> None:
    viewer = member_of("viewer")
    client.force_login(viewer)
    job = Job.objects.create(case=case, kind=JobKind.SELFCHECK, stage="models", progress=0.5)
    payload = client.get(f"/cases/{case.pk}/jobs/").json()
    assert payload["jobs"][0]["job"] == job.pk
    assert payload["jobs"][0]["progress"] == 0.5
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Run a system check" not in page
    assert client.post(f"/cases/{case.pk}/jobs/selfcheck/").status_code == 403
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_share_link_page_grants_access(client: Any, case: Any, make_user: Any) -> None:
    from datetime import timedelta

    from webapp.cases import services

    new = services.create_share_link(case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1))
    guest = make_user()
    client.force_login(guest)
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    assert client.get(f"/share/{new.token}/").status_code == 200  # asks first: a GET joins nobody
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    assert client.post(f"/share/{new.token}/").status_code == 302
    assert client.get(f"/cases/{case.pk}/").status_code == 200
    assert client.get("/share/not-a-token/").status_code == 404


def registered_models() -> list[Any]:
    return [
        model
        for model in admin.site._registry
        if model._meta.app_label in {"cases", "footage", "search", "jobs", "audit"}
    ]


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_admin_page_renders(admin_client: Any, case: Any, model: Any) -> None:
    from webapp.audit import services as audit

    audit.record(action="case.view", actor=case.owner, case=case)
    Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist + "?q=station").status_code == 200
    first = model.objects.first()
    if first is not None:
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
        assert admin_client.get(change).status_code == 200


def test_audit_log_is_read_only_in_the_admin(admin_client: Any, case: Any) -> None:
    from webapp.audit.models import AuditEvent

    event = AuditEvent.objects.filter(case_id=case.pk).first()
    assert event is not None
    assert admin_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    response = admin_client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_admin_bulk_actions(admin_client: Any, case: Any) -> None:
    from datetime import timedelta

    from webapp.cases import services
    from webapp.cases.models import Case, ShareLink

    link = services.create_share_link(
        case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1)
    ).link
    admin_client.post(
        reverse("admin:cases_sharelink_changelist"), {"action": "revoke", "_selected_action": [link.pk]}
    )
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None
    admin_client.post(
        reverse("admin:cases_case_changelist"), {"action": "lock_as_evidence", "_selected_action": [case.pk]}
    )
    assert Case.objects.get(pk=case.pk).locked
    job = Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    admin_client.post(
        reverse("admin:jobs_job_changelist"), {"action": "cancel", "_selected_action": [job.pk]}
    )
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
