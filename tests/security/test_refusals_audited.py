"""Finding 9: refused access to a case's objects is recorded (once per user and case a minute) and shown
to the owner; failed share-link redemptions carry the case when the token names one. Sockets: see
test_live_sockets.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from media_samples import results_fixture

from webapp.audit import services as audit_services
from webapp.audit.models import AuditEvent
from webapp.cases import services as cases
from webapp.jobs.models import Job, JobKind, JobStatus

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def refusals(case: Any) -> list[tuple[str, int, str]]:
    events = AuditEvent.objects.filter(action="access.refused", case_id=case.pk).order_by("id")
    return [(e.actor_label, e.details["status"], e.details["path"]) for e in events]


def test_refused_requests_are_recorded_once_a_minute_and_shown_to_the_owner(
    case: Any, member_of: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    query, hit = results_fixture(case)
    outsider, viewer_user = make_user("mallory"), member_of("viewer")
    mallory, viewer = client_for(outsider), client_for(viewer_user)
    c = case.pk
    for path in (f"/cases/{c}/", f"/cases/{c}/search/hits/{hit.pk}/thumb", f"/cases/{c}/videos/"):
        assert mallory.get(path).status_code == 404
    assert viewer.get(f"/cases/{c}/search/queries/{query.pk}/hits.json").status_code == 403
    assert viewer.get(f"/cases/{c}/audit/").status_code == 403
    assert Client().get(f"/cases/{c}/videos/").status_code == 404  # anonymous
    assert refusals(case) == [
        ("mallory", 404, f"/cases/{c}/"),
        (viewer_user.get_username(), 403, f"/cases/{c}/search/queries/{query.pk}/hits.json"),
        ("anonymous", 404, f"/cases/{c}/videos/"),
    ]
    page = client_for(case.owner).get(f"/cases/{c}/audit/").content.decode()
    assert re.findall(r'data-action="(access\.refused)"', page) == ["access.refused"] * 3
    # A job of the case, asked for by its id alone, is refused on the case's log too.
    job = Job.objects.create(case=case, kind=JobKind.SELFCHECK, status=JobStatus.FAILED)
    assert client_for(make_user("eve")).post(f"/jobs/{job.pk}/retry/").status_code == 404
    assert refusals(case)[-1] == ("eve", 404, f"/jobs/{job.pk}/retry/")
    # A case that does not exist leaves nothing (no one to show it to) and answers the same.
    assert mallory.get(f"/cases/{c + 1000}/").status_code == 404
    assert len(refusals(case)) == 4
    # Once the window has passed, the next refusal is recorded again.
    monkeypatch.setattr(audit_services, "REFUSAL_WINDOW_S", 0)
    assert mallory.get(f"/cases/{c}/videos/").status_code == 404
    assert refusals(case)[-1] == ("mallory", 404, f"/cases/{c}/videos/")


def test_failed_redemptions_carry_the_case_the_token_names(case: Any, make_user: Any) -> None:
    revoked = cases.create_share_link(
        case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1)
    )
    cases.revoke_share_link(link=revoked.link, actor=case.owner)
    visitor = client_for(make_user("visitor"))
    assert visitor.get(f"/share/{revoked.token}/").status_code == 404
    assert visitor.post(f"/share/{revoked.token}/").status_code == 404
    assert visitor.get("/share/not-a-token-of-anyone/").status_code == 404
    failed = AuditEvent.objects.filter(action="share.redeem_failed").order_by("id")
    assert [e.case_id for e in failed] == [case.pk, case.pk, None]
    page = client_for(case.owner).get(f"/cases/{case.pk}/audit/").content.decode()
    assert page.count('data-action="share.redeem_failed"') == 2
