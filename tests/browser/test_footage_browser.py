"""Footage in the browser, end to end: Debian's Chromium drives the real case page served by daphne, the
session's real Celery worker analyses the upload with the real models (tests/conftest.py live_stack), and
progress arrives over the case websocket.

1. An upload of the PETS clip is interrupted by a page reload midway and resumed from the server's offset;
   the stored sha256 equals the source's.
2. The PETS clip is uploaded through the file picker, its analysis progress arrives live and reaches done,
   the player streams the rendition and seeks (a Range request answered 206).
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from webapp.cases.models import Case
from webapp.footage.models import Video
from webapp.jobs import services as jobs
from webapp.jobs.models import Job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def open_case(page: Any, server: str, case: Case) -> None:
    page.goto(f"{server}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_interrupted_upload_resumes_from_the_servers_offset(
    case: Case, live_server_url: str, page_for: Any, shared_dir: Path, artifacts_dir: Path
) -> None:
    server, page = live_server_url, page_for(case.owner)
    clip = shared_dir / "data" / "pets09_s2l1" / "vtest.avi"
    size = clip.stat().st_size
    open_case(page, server, case)
    # A slow link (about 2 MB/s) and 1 MiB pieces, so the reload lands in the middle of the upload.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 2_000_000},
    )
    page.eval_on_selector("#footage-panel", "el => { el.dataset.chunkBytes = String(1024 * 1024); }")
    page.set_input_files("#file-input", str(clip))
    page.wait_for_function(
        f"() => Number(document.querySelector('li.upload')?.dataset.sent || 0) > {size // 3}", timeout=30_000
    )
    page.screenshot(path=str(artifacts_dir / "footage-upload-interrupted.png"))
    page.reload()  # the connection drops mid-piece; the page forgets everything but localStorage
    page.wait_for_selector("#live-status[data-state=live]")
    paused = page.wait_for_selector("li.upload[data-state=paused]")
    assert "vtest.avi" in paused.inner_text() and "paused" in paused.inner_text()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.eval_on_selector("#footage-panel", "el => { el.dataset.chunkBytes = String(1024 * 1024); }")
    page.set_input_files("#file-input", str(clip))  # the same file again
    row = page.wait_for_selector("li.upload[data-state=done]", timeout=60_000)
    assert row.get_attribute("data-resumed") == "1"
    first_sent = int(row.get_attribute("data-first-sent") or 0)
    assert size // 3 - 1024 * 1024 <= first_sent < size, "the upload went on from the server's offset"
    video_id = int(row.get_attribute("data-video") or 0)
    listing = page.request.get(f"{server}/cases/{case.pk}/videos/").json()
    video = next(v for v in listing["videos"] if v["id"] == video_id)
    assert video["sha256"] == sha256(clip)
    assert video["size_bytes"] == size
    # This test is about the upload: stop the analysis it queued so the worker is free for the next test.
    jobs.request_cancel(job_id=Job.objects.get(video_id=video_id).pk, actor=case.owner)

    # Two bad files dropped at once onto the drop zone: each is refused with its reason, nothing is kept.
    dropped = {
        "minutes.mp4": base64.b64encode(b"minutes of the meeting, not a video\n" * 50).decode(),
        "cut-short.avi": base64.b64encode(clip.read_bytes()[:30_000]).decode(),
    }
    page.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type: "video/mp4" }));
            }
            const drop = new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true });
            document.getElementById("dropzone").dispatchEvent(drop);
        }""",
        dropped,
    )
    notes = page.wait_for_selector("li.upload[data-name='minutes.mp4'][data-state=error]")
    assert "not a video file" in notes.inner_text()
    short = page.wait_for_selector("li.upload[data-name='cut-short.avi'][data-state=error]")
    assert "truncated" in short.inner_text()
    page.screenshot(path=str(artifacts_dir / "footage-refused.png"))
    assert Video.objects.filter(case=case).count() == 1


def test_upload_analyse_live_then_play_and_seek(
    case: Case, live_server_url: str, page_for: Any, shared_dir: Path, artifacts_dir: Path
) -> None:
    server, page = live_server_url, page_for(case.owner)
    clip = shared_dir / "data" / "pets09_s2l1" / "vtest.avi"
    page.add_init_script(
        "window.__jobEvents = [];"
        "document.addEventListener('sightline:job', (e) => window.__jobEvents.push(e.detail));"
    )
    ranges: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            ranges.append((r.status, r.request.headers.get("range", ""))) if "/stream" in r.url else None
        ),
    )
    open_case(page, server, case)
    page.fill("#camera-label", "Platform 2")
    page.set_input_files("#file-input", str(clip))
    page.wait_for_selector("li.upload[data-state=done]", timeout=60_000)
    # Live progress: events of the running analysis arrive over the websocket while it runs.
    page.wait_for_function(
        "() => window.__jobEvents.some(e => e.kind === 'ingest' && e.status === 'running'"
        " && e.stage === 'analyse' && e.progress > 0.3 && e.progress < 0.9)",
        timeout=180_000,
    )
    page.wait_for_selector("li.video[data-status=ingesting] img.poster")  # the list follows the stages
    page.screenshot(path=str(artifacts_dir / "footage-analysing.png"))
    page.wait_for_selector("li.video[data-status=ready]", timeout=300_000)
    events = page.evaluate("window.__jobEvents")
    ingest = [e for e in events if e["kind"] == "ingest"]
    assert ingest[-1]["status"] == "done" and ingest[-1]["progress"] == 1.0
    progress = [e["progress"] for e in ingest]
    assert progress == sorted(progress), "progress only moves forward"
    assert {"analyse", "index"} <= {e["stage"] for e in ingest}
    item = page.locator("li.video[data-status=ready]")
    assert "Platform 2" in item.inner_text() and "1:20" in item.inner_text()
    assert item.locator("img.poster").evaluate("img => img.complete && img.naturalWidth > 0")

    item.locator("button.play").click()
    video = page.locator("#player-video")
    video.evaluate(
        "v => new Promise(ok => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))"
    )
    assert abs(video.evaluate("v => v.duration") - 79.5) < 0.5
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#player-video').currentTime > 0.5", timeout=20_000)
    for target in (55.0, 12.5):
        video.evaluate(
            "(v, t) => new Promise(ok => { v.addEventListener('seeked', ok, { once: true }); "
            "window.sightline.player.seek(t); })",
            target,
        )
        assert abs(video.evaluate("v => v.currentTime") - target) < 0.5
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "footage-player.png"), full_page=True)
    assert any(status == 206 and header.startswith("bytes=") for status, header in ranges), ranges
