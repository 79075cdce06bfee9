"""Findings 7 and 8: permissions that agree with themselves, and an evidence lock that locks.

Decisions (docs/security.md): viewers are read-only: they start no search and cannot choose, re-run or
refine anyone's (a search stores a query, a job and hits). The hits are not secret from members: every
member sees them on the case page (its JSON), each view audit-logged; the export capability guards the
documents that leave the system (report, CSV/JSON files, clips). While a case is locked as evidence, its
videos, hits and verdicts do not change; new footage may still be uploaded; only the owner unlocks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from live_services import REPO
from media_samples import jpeg, results_fixture

from webapp.audit.models import AuditEvent
from webapp.cases import services as cases

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_viewers_never_write_not_even_through_choose(case: Any, member_of: Any) -> None:
    query, _ = results_fixture(case)
    viewer = client_for(member_of("viewer"))
    base = f"/cases/{case.pk}/search/queries/{query.pk}"
    assert viewer.post(f"/cases/{case.pk}/search/", {"photo": _photo()}).status_code == 403
    for action in ("choose", "rerun", "refine"):
        response = viewer.post(f"{base}/{action}", {"box": "0,0,40,100"})
        assert response.status_code == 403, action
    query.refresh_from_db()
    assert query.params["box"] is None  # the owner's query was not changed
    # An editor works on any query of the case (past the permission check, a box that fits is accepted).
    editor = client_for(member_of("editor"))
    assert editor.post(f"{base}/choose", {"box": "0,0,40,100"}).status_code == 202


def test_members_see_the_hits_exports_are_what_is_guarded(case: Any, member_of: Any) -> None:
    query, hit = results_fixture(case)
    viewer = client_for(member_of("viewer"))
    document = viewer.get(f"/cases/{case.pk}/search/queries/{query.pk}/").json()
    assert [h["id"] for h in document["hits"]] == [hit.pk]
    for export in ("hits.json", "hits.csv", "report"):
        assert viewer.get(f"/cases/{case.pk}/search/queries/{query.pk}/{export}").status_code == 403
    assert AuditEvent.objects.filter(action="search.results.view", case_id=case.pk).count() == 1
    security = (REPO / "docs" / "security.md").read_text()
    assert "not secret from members" in security


def _photo() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")


def test_a_locked_case_keeps_its_evidence(case: Any, member_of: Any) -> None:
    query, hit = results_fixture(case)
    video = hit.track.video
    editor_user = member_of("editor")
    editor, owner = client_for(editor_user), client_for(case.owner)
    assert owner.post(f"/cases/{case.pk}/lock", {"locked": "1"}).status_code == 302
    c = case.pk
    refused = [
        editor.post(f"/cases/{c}/videos/{video.pk}/delete"),
        editor.post(f"/cases/{c}/videos/{video.pk}/details", {"camera_label": "Gate 9"}),
        editor.post(f"/cases/{c}/search/hits/{hit.pk}/verdict", {"verdict": "rejected"}),
        editor.post(f"/cases/{c}/search/queries/{query.pk}/choose", {"box": "0,0,40,100"}),
        editor.post(f"/cases/{c}/search/queries/{query.pk}/rerun"),
        owner.post(f"/cases/{c}/videos/{video.pk}/delete"),
    ]
    assert [r.status_code for r in refused] == [409] * len(refused)
    assert "locked as evidence" in json.loads(refused[0].content)["error"]
    video.refresh_from_db()
    hit.refresh_from_db()
    assert video.camera_label == "" and hit.verdict == ""
    # New footage may still arrive (an investigation goes on; nothing stored changes).
    created = editor.post(f"/cases/{c}/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="10")
    assert created.status_code == 201
    # Only the owner unlocks, and it is recorded.
    assert editor.post(f"/cases/{c}/lock", {"locked": "0"}).status_code == 403
    case.refresh_from_db()
    assert case.locked
    assert owner.post(f"/cases/{c}/lock", {"locked": "0"}).status_code == 302
    assert AuditEvent.objects.filter(action="case.unlock", case_id=c, actor_id=case.owner.pk).count() == 1
    assert editor.post(f"/cases/{c}/search/hits/{hit.pk}/verdict", {"verdict": "rejected"}).status_code == 200


def test_operators_cannot_unlock_a_case_in_the_admin(case: Any, make_user: Any) -> None:
    cases.set_locked(case=case, locked=True, actor=case.owner)
    operator = client_for(make_user(is_staff=True, is_superuser=True))
    page = operator.get("/admin/cases/case/").content.decode()
    assert 'value="lock_as_evidence"' in page and 'value="unlock"' not in page
    operator.post("/admin/cases/case/", {"action": "unlock", "_selected_action": [str(case.pk)]})
    case.refresh_from_db()
    assert case.locked


def test_retention_skips_a_case_locked_meanwhile(case: Any) -> None:
    from webapp.footage import services as footage

    _, hit = results_fixture(case)
    cases.set_locked(case=case, locked=True, actor=case.owner)
    with pytest.raises(cases.EvidenceLocked):
        footage.delete_video(video=hit.track.video, user=None)
