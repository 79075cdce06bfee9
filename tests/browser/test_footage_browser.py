"""Footage in the browser, end to end: Debian's Chromium drives the real case page served by daphne, a real
Celery worker analyses the upload with the real models, and progress arrives over the case websocket.

1. An upload of the PETS clip is interrupted by a page reload midway and resumed from the server's offset;
   the stored sha256 equals the source's.
2. The PETS clip is uploaded through the file picker, its analysis progress arrives live and reaches done,
   the player streams the rendition and seeks (a Range request answered 206).
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from webapp.cases.models import Case, Membership, Role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "pw-olivia-1"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def shared_dir() -> Path:
    return Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def process_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "SIGHTLINE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    if (shared_dir() / "models").exists() and "REID_MODELS_DIRS" not in os.environ:
        env["REID_MODELS_DIRS"] = str(shared_dir() / "models")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], log: Path, ready: bytes) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        args, cwd=REPO, env=process_env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while ready not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"{args[2]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
        tmp_path / "daphne.log",
        b"Listening on",
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[None]:
    from webapp.celery import app

    app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "ingest", "-c", "1"]
    command += ["-n", "browser@testhost", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
    process = start(
        command,
        tmp_path / "worker.log",
        b" ready.",
    )
    yield
    stop(process)


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def case() -> Case:  # requested before page: the ORM cannot run once Playwright owns the loop
    owner = User.objects.create_user("olivia", password=PASSWORD)
    case = Case.objects.create(title="Platform 2 assault", owner=owner)
    Membership.objects.create(case=case, user=owner, role=Role.OWNER)
    return case


def open_case(page: Any, server: str, case: Case) -> None:
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_interrupted_upload_resumes_from_the_servers_offset(case: Case, server: str, page: Any) -> None:
    clip = shared_dir() / "data" / "pets09_s2l1" / "vtest.avi"
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
    page.screenshot(path=str(ARTIFACTS / "footage-upload-interrupted.png"))
    page.reload()  # the connection drops mid-piece; the page forgets everything but localStorage
    page.wait_for_selector("#live-status[data-state=live]")
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


def test_upload_analyse_live_then_play_and_seek(case: Case, worker: None, server: str, page: Any) -> None:
    clip = shared_dir() / "data" / "pets09_s2l1" / "vtest.avi"
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
    page.screenshot(path=str(ARTIFACTS / "footage-analysing.png"))
    page.wait_for_selector("li.video[data-status=ready]", timeout=300_000)
    events = page.evaluate("window.__jobEvents")
    ingest = [e for e in events if e["kind"] == "ingest"]
    assert ingest[-1]["status"] == "done" and ingest[-1]["progress"] == 1.0
    progress = [e["progress"] for e in ingest]
    assert progress == sorted(progress), "progress only moves forward"
    assert {"transcode", "analyse", "index"} <= {e["stage"] for e in ingest}
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
    page.screenshot(path=str(ARTIFACTS / "footage-player.png"), full_page=True)
    assert any(status == 206 and header.startswith("bytes=") for status, header in ranges), ranges
