"""In Debian's Chromium: a real case page receives a worker's progress events over the websocket, and an
operator logs into the admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.slow]

COLLECT_EVENTS = """() => {
  window.__jobEvents = [];
  document.addEventListener("sightline:job", (e) => window.__jobEvents.push(e.detail));
}"""


@pytest.mark.django_db(transaction=True)
def test_case_page_shows_a_workers_progress_live(
    page_for: Any, live_server_url: str, case: Any, artifacts_dir: Path
) -> None:
    page = page_for(case.owner)
    page.goto(f"{live_server_url}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")
    page.evaluate(COLLECT_EVENTS)

    page.click("#selfcheck-button")
    page.wait_for_selector("#jobs-list .job[data-status=done]", timeout=90_000)

    events = page.evaluate("window.__jobEvents")
    statuses = [e["status"] for e in events]
    stages = {e["stage"] for e in events if e["status"] == "running"}
    assert statuses[-1] == "done", events
    assert "running" in statuses, "no progress event arrived before the end"
    assert stages >= {"database", "storage", "models", "inference"}, stages
    assert page.inner_text("#jobs-list .job[data-status=done] .status") == "Finished"
    page.screenshot(path=str(artifacts_dir / "case-page.png"), full_page=True)

    # A reload shows the same state, loaded from the database.
    page.reload()
    page.wait_for_selector("#live-status[data-state=live]")
    assert page.locator("#jobs-list .job[data-status=done]").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_job_is_retried_from_the_page(page_for: Any, live_server_url: str, case: Any) -> None:
    from webapp.jobs.models import Job, JobKind, JobStatus

    failed = Job.objects.create(
        case=case,
        kind=JobKind.SELFCHECK,
        status=JobStatus.FAILED,
        error="The worker was lost.",
        params={"task": "webapp.jobs.tasks.selfcheck"},
    )
    page = page_for(case.owner)
    page.goto(f"{live_server_url}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")
    item = f"#jobs-list .job[data-job='{failed.pk}']"
    page.wait_for_selector(f"{item} button[data-action=retry]")  # drawn once the state is loaded
    assert page.inner_text(f"{item} .status") == "The worker was lost."
    page.click(f"{item} button[data-action=retry]")
    page.wait_for_selector(f"{item}[data-status=done]", timeout=90_000)
    assert Job.objects.get(pk=failed.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_outsider_sees_404_not_the_case(
    page_for: Any, live_server_url: str, case: Any, make_user: Any
) -> None:
    page = page_for(make_user())
    response = page.goto(f"{live_server_url}/cases/{case.pk}/")
    assert response is not None and response.status == 404
    assert case.title not in page.content()


@pytest.mark.django_db(transaction=True)
def test_operator_logs_into_the_admin(page_for: Any, live_server_url: str, make_user: Any, case: Any) -> None:
    make_user("operator", password="operator-pass-123", is_staff=True, is_superuser=True)
    page = page_for(None)
    page.goto(f"{live_server_url}/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "operator-pass-123")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Site administration")
    page.goto(f"{live_server_url}/admin/cases/case/")
    page.wait_for_selector(f"#result_list >> text={case.title}")
    page.goto(f"{live_server_url}/admin/audit/auditevent/")
    assert page.locator("text=case.create").count() >= 1
    assert page.locator("#content .object-tools a.addlink").count() == 0  # the audit log is read-only
