"""The Content-Security-Policy in Chromium: the case page (footage panel with a playing video, search results,
jobs panel, websocket), the sharing controls and the printable report run without a single policy violation
under script-src and style-src 'self', and the styles moved out of the templates into static CSS apply."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from media_samples import jpeg, results_fixture

pytestmark = [pytest.mark.browser, pytest.mark.services]

# Collects violations the page itself sees (the console shows them too; both are checked).
WATCH = """document.addEventListener('securitypolicyviolation',
  e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));
window.print = () => { window.__printed = (window.__printed || 0) + 1; };"""


def directives(header: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def style(page: Any, selector: str, prop: str) -> str:
    return str(page.eval_on_selector(selector, "(el, p) => getComputedStyle(el).getPropertyValue(p)", prop))


@pytest.mark.django_db(transaction=True)
def test_pages_run_under_the_policy(page_for: Any, live_server_url: str, case: Any) -> None:
    query, _ = results_fixture(case)
    # A playable video with a poster, and a finished search: the footage list, the player, the results.
    track = query.hits.get().track
    track.thumbnail.save("t.jpg", ContentFile(jpeg()))
    video = track.video
    video.rendition.name = video.original.name
    video.poster.save("poster.jpg", ContentFile(jpeg(160, 120)), save=False)
    video.save()
    query.params = {"box": None, "outcome": "results", "models": {"appearance_only": True}}
    query.save()

    page = page_for(case.owner)
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text) if "Refused to" in m.text or "Content Security Policy" in m.text else None
        ),
    )
    page.add_init_script(WATCH)
    response = page.goto(f"{live_server_url}/cases/{case.pk}/")
    csp = response.headers["content-security-policy"]
    assert directives(csp)["script-src"] == ["'self'"] and directives(csp)["style-src"] == ["'self'"]
    assert "unsafe-" not in csp and "sha256-" not in csp
    page.wait_for_selector("#live-status[data-state=live]")  # the websocket connected under connect-src

    # Footage panel (static/css/footage.css): the poster's box, then the player.
    page.wait_for_selector("li.video[data-status=ready] img.poster")
    assert style(page, "#footage-panel .poster", "width") == "160px"
    assert style(page, "#footage-panel .poster", "object-fit") == "cover"
    page.click("li.video button.play")
    page.locator("#player-video").evaluate(
        "v => new Promise(ok => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))"
    )
    assert style(page, "#footage-panel .player video", "background-color") == "rgb(0, 0, 0)"

    # Search results (static/css/search.css), opened from the case's earlier searches.
    page.click("#search-panel details.search-history-box summary")
    page.click("#search-history button")
    page.wait_for_selector("#search-hits li.hit")
    assert style(page, "#search-panel", "margin-top") == "16px"
    assert style(page, "#search-panel .hit-open img", "height") == "96px"
    assert style(page, "#search-panel .timeline", "height") == "14px"
    assert style(page, "#search-panel .pack.appearance-only", "border-left-width") == "4px"
    # Positions set by script through the CSSOM are not inline markup: the policy lets them through.
    assert page.eval_on_selector("#search-panel .timeline .mark", "m => m.style.left") == "10%"
    page.click("#search-hits li.hit .hit-open")  # plays the moment, draws the overlay canvas
    page.wait_for_selector("canvas.search-overlay")
    assert page.evaluate("window.__csp || []") == []

    page.fill("#id_identifier", "nobody-here")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector(".messages")
    assert page.evaluate("window.__csp || []") == []

    # The printable report (static/css/report.css); the print button's handler comes from dist/report.js.
    response = page.goto(f"{live_server_url}/cases/{case.pk}/search/queries/{query.pk}/report")
    assert directives(response.headers["content-security-policy"])["style-src"] == ["'self'"]
    assert style(page, "body", "max-width") == "960px"
    assert style(page, "table", "border-collapse") == "collapse"
    page.click("#print-report")
    page.wait_for_function("window.__printed === 1")
    assert page.evaluate("window.__csp || []") == []
    assert console == []
