"""A newcomer's first search, as the README tells it: `scripts/start.sh` on a machine with no models folder
(the trained pack ships with the product), log in with the printed admin account, create a case, upload the
PETS clip through the page, drop a photo of a person, read the results in Chromium.

start.sh runs in its embedded mode here (the ports it would use for PostgreSQL and Redis hold nothing), so
the test touches none of the session's services. Checked: the page names the trained models before any
search, the query's person is in the top 3, and every result's words are the calibrated band of its score.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webapp" / "search"))
import search_pets
from live_services import REPO, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a-long-newcomer-password"


@pytest.fixture
def started_app(tmp_path: Path) -> Any:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SIGHTLINE_MODE", "DJANGO_SETTINGS_MODULE", "SIGHTLINE_DEV")
        and not k.startswith("REID_")  # a newcomer has no models folder: only what the product ships
    }
    env |= {
        "SIGHTLINE_PG_PORT": str(free_port()),
        "SIGHTLINE_REDIS_PORT": str(free_port()),
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "SIGHTLINE_ADMIN_USER": "newcomer",
        "SIGHTLINE_ADMIN_PASSWORD": PASSWORD,
    }
    log = tmp_path / "start.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/start.sh"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", log
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


def test_newcomer_finds_a_person_with_the_shipped_trained_models(
    started_app: Any, browser: Any, frontend_built: None, tmp_path: Path, artifacts_dir: Path
) -> None:
    from reid_core.models import get_spec
    from webapp.search import scores

    server, log = started_app
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server}/cases/new/")
    page.fill("#id_title", "First case")
    page.click("button.primary")
    page.wait_for_selector("#live-status[data-state=live]")
    models = page.locator("#models-in-use").inner_text()
    assert "trained person re-identification" in models and "omz_reid_0277" in models, models

    page.set_input_files("#file-input", str(search_pets.pets_clip()))
    page.wait_for_selector("li.video[data-status=ready]", timeout=600_000)

    query = search_pets.largest_query()
    photo = search_pets.save_crop(search_pets.frame_image(query.frame), query.box, tmp_path / "person.jpg")
    page.set_input_files("#search-file", str(photo))
    page.wait_for_selector("#search-panel[data-state=results] li.hit", timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "newcomer-search.png"), full_page=True)
    assert "Trained person re-identification" in page.locator("#search-pack").inner_text()

    doc = page.evaluate("() => window.sightline.search.doc")
    assert doc["models"]["embedder"] == "omz_reid_0277" and not doc["models"]["appearance_only"]
    gt = search_pets.gt_boxes(query.gt_id)
    # Result boxes are [t, x, y, w, h]; PETS runs at 10 fps from t = 0.
    shares = [
        search_pets.track_matches([[round(b[0] * 10), *b] for b in hit["boxes"]], gt)
        for hit in doc["hits"][:3]
    ]
    assert max(shares) >= 0.5, (shares, log.read_text(errors="replace")[-2000:])
    # The words are the calibrated band of each score, for the embedder that made them.
    spec = get_spec("omz_reid_0277")
    assert spec.bands is not None
    bands = scores.Bands(spec.bands["very_similar"], spec.bands["similar"], spec.bands["somewhat_similar"])
    for hit in doc["hits"]:
        key = scores.band(hit["score"], bands)
        assert hit["band"] == key and hit["words"] == scores.LABELS[key]

    # A second photo of the same person, from a later moment, joins the search from the results.
    later = max(f for f in gt if abs(f - query.frame) > 100)
    second = search_pets.save_crop(search_pets.frame_image(later), gt[later], tmp_path / "later.jpg")
    page.set_input_files("#search-more-file", str(second))
    page.wait_for_function(
        "() => { const d = window.sightline.search.doc; return d && d.query.more_photo_urls.length === 1"
        " && document.getElementById('search-panel').dataset.state === 'results'; }",
        timeout=120_000,
    )
    assert page.locator("#search-photos img").count() == 2
    page.screenshot(path=str(artifacts_dir / "newcomer-two-photos.png"), full_page=True)
    context.close()
