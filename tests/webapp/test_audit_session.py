"""A scripted session of an owner and a viewer over real HTTP (daphne on the test database, cookies, CSRF
tokens, login form) and the exact audit entries it leaves."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from http_browser import Browser
from media_samples import results_fixture, tiny_video_bytes

from webapp.audit.models import AuditEvent

PASSWORD = "a-long-test-password"


def wait_clip(browser: Browser, status_url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clip: dict[str, Any] = browser.json(status_url)
        if clip["job"]["status"] not in ("queued", "running"):
            assert clip["ready"], clip["job"]
            return clip
        time.sleep(0.2)
    raise AssertionError(f"the clip at {status_url} is not made after {timeout} s")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_owner_and_viewer_session_leaves_exactly_these_entries(
    live_stack: dict[str, Any], case: Any, make_user: Any
) -> None:
    make_user("vera", password=PASSWORD)
    case.owner.set_password(PASSWORD)
    case.owner.save()
    query, hit = results_fixture(case)
    first = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    c = case.pk
    owner, viewer = Browser(live_stack["url"]), Browser(live_stack["url"])

    assert owner.login("olivia", PASSWORD) == 302
    assert viewer.login("vera", "not-her-password") == 200
    assert viewer.login("vera", PASSWORD) == 302
    assert viewer.get(f"/cases/{c}/") == 404  # not a member yet: nothing leaked, the refusal recorded
    assert owner.get(f"/cases/{c}/") == 200
    status, page = owner.request("POST", f"/cases/{c}/links/", {"role": "viewer", "days": "1"})
    assert status == 200
    match = re.search(r"/share/([^/\"]+)/", page)
    assert match is not None
    token = match.group(1)
    assert viewer.get(f"/share/{token}/") == 200  # asks first
    assert viewer.post(f"/share/{token}/") == 302
    assert viewer.get(f"/cases/{c}/") == 200
    assert viewer.get(f"/cases/{c}/search/queries/{query.pk}/report") == 403  # viewers do not export
    assert owner.post(f"/cases/{c}/search/hits/{hit.pk}/verdict", {"verdict": "confirmed"}) == 200
    assert owner.get(f"/cases/{c}/search/queries/{query.pk}/hits.csv") == 200
    # The clip is cut by an export job on the worker, then downloaded once: two entries.
    status, answer = owner.request("POST", f"/cases/{c}/search/hits/{hit.pk}/clip")
    assert status == 202
    clip = wait_clip(owner, json.loads(answer)["status_url"])
    status, headers, body = owner.raw("GET", clip["file_url"])
    sent = {name.lower(): value for name, value in headers.items()}
    assert status == 200 and hashlib.sha256(body).hexdigest() == clip["sha256"] == sent["x-content-sha256"]
    link_id = case.share_links.get().pk
    assert owner.post(f"/cases/{c}/links/{link_id}/revoke") == 302
    assert (
        owner.post(f"/cases/{c}/members/{case.memberships.get(user__username='vera').user_id}/remove") == 302
    )
    assert viewer.get(f"/cases/{c}/") == 404
    assert owner.post("/accounts/logout/") == 302

    events = AuditEvent.objects.filter(id__gt=first).order_by("id")
    assert [(e.actor_label, e.action, e.case_id) for e in events] == [
        ("olivia", "auth.login", None),
        ("anonymous (vera)", "auth.login_failed", None),
        ("vera", "auth.login", None),
        ("vera", "access.refused", c),
        ("olivia", "case.view", c),
        ("olivia", "share.create", c),
        ("vera", "share.redeem", c),
        ("vera", "case.view", c),
        ("olivia", "search.hit.confirmed", c),
        ("olivia", "search.export.csv", c),
        ("olivia", "job.start", c),
        ("olivia", "search.export.clip", c),
        ("olivia", "share.revoke", c),
        ("olivia", "member.remove", c),
        ("olivia", "auth.logout", None),
    ]
    assert {e.client_address for e in events} == {"127.0.0.1"}
    assert events.get(action="job.start").details["kind"] == "export"
    exported = events.get(action="search.export.clip")
    assert exported.details["sha256"] == clip["sha256"] and exported.details["hit"] == hit.pk
    # The owner reads the same log on the case page (newest first).
    assert owner.login("olivia", PASSWORD) == 302
    status, log = owner.request("GET", f"/cases/{c}/audit/")
    assert status == 200
    assert re.findall(r'data-action="([^"]+)"', log)[:3] == [
        "member.remove",
        "share.revoke",
        "search.export.clip",
    ]


def test_uploads_deletions_and_result_views_are_recorded(client: Any, case: Any) -> None:
    query, _ = results_fixture(case)
    client.force_login(case.owner)
    meta = "filename " + base64.b64encode(b"cam2.mp4").decode()
    body = tiny_video_bytes()
    created = client.post(
        f"/cases/{case.pk}/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(len(body)),
        HTTP_UPLOAD_METADATA=meta,
    )
    client.patch(
        created["Location"],
        body,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )
    video_id = client.post(created["Location"] + "/complete").json()["video"]["id"]
    assert client.get(f"/cases/{case.pk}/search/queries/{query.pk}/").status_code == 200
    assert client.post(f"/cases/{case.pk}/videos/{video_id}/delete").status_code == 200
    assert not (Path(settings.MEDIA_ROOT) / f"cases/{case.pk}/videos/{video_id}").exists()
    actions = list(AuditEvent.objects.filter(case=case).order_by("id").values_list("action", flat=True))
    assert [a for a in actions if a.startswith(("video.", "search.results"))] == [
        "video.upload",
        "search.results.view",
        "video.delete",
    ]
