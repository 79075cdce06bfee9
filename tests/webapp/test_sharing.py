"""Sharing through the case page's forms (real HTTP client, real PostgreSQL): invite by username or email,
share links shown once and stored hashed, anonymous visitor -> login -> joins, revoke, leave, transfer."""

from __future__ import annotations

import re
from typing import Any

from webapp.audit.models import AuditEvent
from webapp.cases.models import Membership, ShareLink
from webapp.cases.services import hash_token


def roles(case: Any) -> dict[str, str]:
    return {m.user.username: m.role for m in Membership.objects.filter(case=case).select_related("user")}


def test_owner_invites_by_username_and_email_changes_role_and_removes(
    client: Any, case: Any, make_user: Any
) -> None:
    bob = make_user("bob")
    carol = make_user("carol", email="Carol@Example.org")
    client.force_login(case.owner)
    client.post(f"/cases/{case.pk}/members/", {"identifier": "BOB", "role": "viewer"})
    client.post(f"/cases/{case.pk}/members/", {"identifier": "carol@example.org", "role": "editor"})
    assert roles(case) == {"olivia": "owner", "bob": "viewer", "carol": "editor"}
    response = client.post(
        f"/cases/{case.pk}/members/", {"identifier": "nobody", "role": "viewer"}, follow=True
    )
    assert "No single account" in response.content.decode()
    client.post(f"/cases/{case.pk}/members/{bob.pk}/role", {"role": "editor"})
    assert roles(case)["bob"] == "editor"
    # The owner's own row cannot be changed or removed from here.
    client.post(f"/cases/{case.pk}/members/{case.owner.pk}/role", {"role": "viewer"})
    client.post(f"/cases/{case.pk}/members/{case.owner.pk}/remove")
    assert roles(case)["olivia"] == "owner"
    client.post(f"/cases/{case.pk}/members/{carol.pk}/remove")
    assert "carol" not in roles(case)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-member="bob"' in page and 'id="invite-form"' in page and 'id="audit-log"' in page
    events = AuditEvent.objects.filter(case=case).exclude(action="case.view").order_by("id")
    assert [(e.action, e.details.get("user"), e.details.get("role")) for e in events] == [
        ("case.create", None, None),
        ("member.add", "bob", "viewer"),
        ("member.add", "carol", "editor"),
        ("member.role", "bob", "editor"),
        ("member.remove", "carol", None),
    ]


def test_share_link_shown_once_anonymous_visitor_logs_in_and_joins(
    client: Any, case: Any, make_user: Any
) -> None:
    make_user("dave", password="a-long-test-password")
    client.force_login(case.owner)
    response = client.post(f"/cases/{case.pk}/links/", {"role": "editor", "days": "7", "label": "for Dave"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    url = re.search(r'value="(http://testserver/share/[^"]+/)"', response.content.decode())
    assert url is not None
    token = url.group(1).rsplit("/", 2)[-2]
    link = ShareLink.objects.get(case=case)
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    # The token never appears again, not on the case page.
    assert token not in client.get(f"/cases/{case.pk}/").content.decode()
    client.logout()

    # Anonymous: the link sends them to log in, and back to the link afterwards.
    response = client.get(f"/share/{token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/share/{token}/"
    response = client.post(
        "/accounts/login/",
        {"username": "dave", "password": "a-long-test-password", "next": f"/share/{token}/"},
    )
    assert response["Location"] == f"/share/{token}/"
    assert "Join as editor" in client.get(f"/share/{token}/").content.decode()
    assert client.post(f"/share/{token}/")["Location"] == f"/cases/{case.pk}/"
    assert roles(case)["dave"] == "editor"
    assert client.get(f"/cases/{case.pk}/").status_code == 200
    assert ShareLink.objects.get(pk=link.pk).uses == 1

    # Revoked: the same link lets nobody else in.
    client.force_login(case.owner)
    client.post(f"/cases/{case.pk}/links/{link.pk}/revoke")
    eve = make_user("eve")
    client.force_login(eve)
    assert client.get(f"/share/{token}/").status_code == 404
    assert client.post(f"/share/{token}/").status_code == 404
    assert "eve" not in roles(case)
    actions = set(AuditEvent.objects.filter(case=case).values_list("action", flat=True))
    assert {"share.create", "share.redeem", "share.revoke"} <= actions
    assert AuditEvent.objects.filter(action="share.redeem_failed", actor_label="eve").count() == 2


def test_member_leaves_owner_cannot_and_ownership_transfers(client: Any, case: Any, member_of: Any) -> None:
    viewer = member_of("viewer")
    editor = member_of("editor")
    client.force_login(viewer)
    assert client.post(f"/cases/{case.pk}/leave")["Location"] == "/"
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    client.force_login(case.owner)
    client.post(f"/cases/{case.pk}/leave")
    assert roles(case)["olivia"] == "owner"
    client.post(f"/cases/{case.pk}/transfer", {"user_id": editor.pk})
    assert roles(case) == {"olivia": "editor", editor.username: "owner"}
    case.refresh_from_db()
    assert case.owner_id == editor.pk
    # The former owner is now an editor: no management any more.
    assert client.post(f"/cases/{case.pk}/transfer", {"user_id": case.owner.pk}).status_code == 403
    assert list(
        AuditEvent.objects.filter(case=case, action__in=["member.leave", "case.transfer"])
        .order_by("id")
        .values_list("action", "actor_label")
    ) == [("member.leave", viewer.username), ("case.transfer", "olivia")]
