"""Sharing in Chromium: the owner makes a link on the case page and copies it; a colleague who is not signed
in opens it, signs in, joins, and sees the case; the owner revokes the link and sees the member listed."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.services]

PASSWORD = "a-long-test-password"


@pytest.mark.django_db(transaction=True)
def test_link_invite_login_join_and_revoke(
    page_for: Any, live_server_url: str, case: Any, make_user: Any
) -> None:
    make_user("dana", password=PASSWORD)
    owner = page_for(case.owner)
    owner.goto(f"{live_server_url}/cases/{case.pk}/")
    owner.select_option("#link-form select[name=role]", "editor")
    owner.fill("#link-form input[name=label]", "for Dana")
    owner.click("#link-form button[type=submit]")
    url = owner.input_value("#share-url")
    assert url.startswith(f"{live_server_url}/share/")

    guest = page_for(None)
    guest.goto(url)
    assert "/accounts/login/" in guest.url  # not signed in: log in first, then back to the link
    guest.fill("#id_username", "dana")
    guest.fill("#id_password", PASSWORD)
    guest.click("button[type=submit]")
    guest.click("#join-case")
    guest.wait_for_url(f"{live_server_url}/cases/{case.pk}/")
    assert "as editor" in guest.inner_text(".messages")
    assert guest.locator("#members tr[data-member=dana]").count() == 1
    assert guest.locator("#link-form").count() == 0  # editors do not share

    owner.goto(f"{live_server_url}/cases/{case.pk}/")
    assert owner.inner_text("#members tr[data-member=dana]").count("Editor") == 1
    owner.click("#share-links .revoke-link")
    assert "revoked" in owner.inner_text("#share-links")
    third = page_for(make_user())
    third.goto(url)
    assert "Link not valid" in third.inner_text("h1")
    # The owner's audit panel shows it all.
    actions = owner.locator("#audit-log tr[data-action]").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )
    assert actions[:2] == ["case.view", "share.revoke"]  # newest first: the page shown after revoking
    assert {"share.create", "share.redeem"} <= set(actions)
