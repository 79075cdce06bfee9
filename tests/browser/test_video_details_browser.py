"""Recording start and camera label on the case page in Chromium, in a browser whose time zone is
Europe/Berlin: the start read from the file is shown in that zone and in UTC and said to come from the file;
the owner corrects it in the footage panel, and the open search result's wall-clock time follows at once
(and in the report). A viewer sees the same details without the editor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from live_services import session_cookie
from media_samples import jpeg, results_fixture

from webapp.audit.models import AuditEvent
from webapp.footage.models import Video

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

WATCH = """document.addEventListener('securitypolicyviolation',
  e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def berlin_page(browser: Any, live_server_url: str, frontend_built: None) -> Iterator[Callable[[Any], Any]]:
    """A signed-in page in a browser set to Europe/Berlin (summer: UTC+2), so local and UTC times differ."""
    contexts: list[Any] = []

    def make(user: Any) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="Europe/Berlin")
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": live_server_url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.add_init_script(WATCH)
        return page

    yield make
    for context in contexts:
        context.close()


def open_results(page: Any, url: str, case: Any) -> None:
    page.goto(f"{url}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")
    page.wait_for_selector("li.video .recording-start")
    page.click("#search-panel details.search-history-box summary")
    page.click("#search-history button")
    page.wait_for_selector("#search-hits li.hit")


def test_owner_corrects_the_recording_start_and_the_hit_time_follows(
    berlin_page: Any, live_server_url: str, case: Any, member_of: Any, artifacts_dir: Path
) -> None:
    query, hit = results_fixture(case)  # the hit starts 0.2 s into the video
    hit.track.thumbnail.save("t.jpg", ContentFile(jpeg()))
    query.params = {"box": None, "outcome": "results", "models": {"appearance_only": True}}
    query.save()
    # What an upload of a file tagged creation_time=2024-05-01T06:00:00Z leaves (tests/webapp/footage).
    Video.objects.filter(pk=hit.track.video_id).update(
        recording_started_at=datetime(2024, 5, 1, 6, 0, tzinfo=UTC), recording_start_source="file"
    )
    viewer = member_of("viewer")

    page = berlin_page(case.owner)
    open_results(page, live_server_url, case)
    start = page.locator("li.video .recording-start")
    assert start.inner_text() == (
        "Recording start: 2024-05-01 08:00:00 Europe/Berlin (2024-05-01 06:00:00 UTC) · read from the file's "
        "creation time: check it against the picture, camera clocks drift"
    )
    assert "2024-05-01 06:00:00 UTC" in page.locator("#search-hits li.hit").inner_text()

    page.click("li.video button.edit-details")
    form = page.locator("form.video-details-form")
    # The form starts from the current values, in this browser's zone, and names it.
    assert form.locator("input[name=recording_date]").input_value() == "2024-05-01"
    assert form.locator("input[name=recording_time]").input_value() == "08:00:00"
    assert form.locator("select[name=timezone]").input_value() == "Europe/Berlin"
    assert "Europe/Berlin (this browser)" in form.locator("select[name=timezone] option:checked").inner_text()

    # Half a start is refused with a message; nothing changes.
    form.locator("input[name=recording_time]").fill("")
    form.locator("button[type=submit]").click()
    alert = form.locator("p.error[role=alert]")
    alert.wait_for()
    assert "both the date and the time" in alert.inner_text()
    form.screenshot(path=str(artifacts_dir / "video-details-editor.png"))

    form.locator("input[name=camera_label]").fill("Gate 3")
    form.locator("input[name=recording_time]").fill("10:30:00")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("form.video-details-form", state="detached")
    assert start.inner_text() == (
        "Recording start: 2024-05-01 10:30:00 Europe/Berlin (2024-05-01 08:30:00 UTC) · set by hand"
    )
    assert page.locator("li.video .video-name").inner_text() == "Gate 3"
    # The open result takes the new wall-clock time and label without a reload.
    page.wait_for_function(
        "() => document.querySelector('#search-hits li.hit').innerText.includes('2024-05-01 08:30:00 UTC')"
    )
    assert "Gate 3" in page.locator("#search-hits li.hit").inner_text()
    page.locator("#footage-panel").screenshot(path=str(artifacts_dir / "video-details.png"))

    video = Video.objects.get(pk=hit.track.video_id)
    assert (video.recording_started_at, video.recording_start_source, video.camera_label) == (
        datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        "user",
        "Gate 3",
    )
    event = AuditEvent.objects.get(action="video.details")
    assert event.details["recording_started_at"] == {
        "old": "2024-05-01T06:00:00+00:00",
        "new": "2024-05-01T08:30:00+00:00",
        "old_source": "file",
        "entered_as": "2024-05-01 10:30:00 Europe/Berlin",
    }
    page.goto(f"{live_server_url}/cases/{case.pk}/search/queries/{query.pk}/report")
    assert "2024-05-01 08:30:00.2 UTC" in page.locator("body").inner_text()
    assert page.evaluate("window.__csp || []") == []

    # A viewer sees the corrected details but gets no editor.
    other = berlin_page(viewer)
    open_results(other, live_server_url, case)
    assert "2024-05-01 10:30:00 Europe/Berlin" in other.locator("li.video .recording-start").inner_text()
    assert other.locator("button.edit-details").count() == 0
    assert "2024-05-01 08:30:00 UTC" in other.locator("#search-hits li.hit").inner_text()
