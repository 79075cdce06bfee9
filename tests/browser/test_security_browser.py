"""The Content-Security-Policy in Chromium: the case page (footage, search and jobs panels, websocket), the
sharing controls and the printable report run without a single policy violation."""

from __future__ import annotations

from typing import Any

import pytest
from media_samples import results_fixture

pytestmark = [pytest.mark.browser, pytest.mark.services]

# Collects violations the page itself sees (the console shows them too; both are checked).
WATCH = """document.addEventListener('securitypolicyviolation',
  e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.mark.django_db(transaction=True)
def test_pages_run_under_the_policy(page_for: Any, live_server_url: str, case: Any) -> None:
    query, _ = results_fixture(case)
    page = page_for(case.owner)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH)
    response = page.goto(f"{live_server_url}/cases/{case.pk}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#live-status[data-state=live]")  # the websocket connected under connect-src
    assert page.evaluate("window.__csp || []") == []
    page.fill("#id_identifier", "nobody-here")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector(".messages")
    assert page.evaluate("window.__csp || []") == []
    page.goto(f"{live_server_url}/cases/{case.pk}/search/queries/{query.pk}/report")
    # window.print() is allowed by its hash; calling it in headless Chromium returns at once.
    page.click("text=Print or save as PDF")
    assert page.evaluate("window.__csp || []") == []
    assert console == []
