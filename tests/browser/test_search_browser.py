"""Search by photo in Debian's Chromium, end to end: daphne serves the real case page, a real Celery worker
runs the search with the real models on the PETS clip, the job's events arrive over the case websocket.

1. A crop of one person (taken where reid_core's evaluation takes its query, outside the frames it scores)
   is dropped on the page; results appear; clicking the top one seeks the player to the moment's start and
   draws the box overlay; N goes to the next moment; rejecting a wrong hit and refining gives a list
   without it.
2. A whole frame with several people shows their boxes; clicking one searches for that person.
3. An evidence clip of a moment: the export job's progress shows on the moment, then the download link and
   the file's sha256; the downloaded file has that sha256.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webapp" / "search"))
import search_pets

from webapp.search.models import Hit, Query

pytestmark = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="session")
def pets(pytestconfig: pytest.Config) -> search_pets.PetsIngest:
    if not search_pets.pets_clip().exists():
        pytest.fail(f"the PETS clip is missing at {search_pets.pets_clip()}: set SIGHTLINE_SHARED_DIR")
    return search_pets.pets_ingest(pytestconfig.cache.mkdir("sightline-search-pets"))


@pytest.fixture(scope="session")
def query_photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import cv2

    folder = tmp_path_factory.mktemp("browser-photos")
    query = search_pets.largest_query()
    image = search_pets.frame_image(query.frame)
    cv2.imwrite(str(folder / "scene.jpg"), image)
    return {
        "person": search_pets.save_crop(image, query.box, folder / "person.jpg"),
        "scene": folder / "scene.jpg",
    }


DROP = """async ({ data, name }) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  const target = document.querySelector("h1");
  for (const type of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}"""


def drop_photo(page: Any, path: Path) -> None:
    page.evaluate(DROP, {"data": base64.b64encode(path.read_bytes()).decode(), "name": path.name})


def open_case(page_for: Any, live_server_url: str, case: Any) -> Any:
    page = page_for(case.owner)
    page.goto(f"{live_server_url}/cases/{case.pk}/")
    page.wait_for_selector("#live-status[data-state=live]")
    return page


def player_state(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => { const v = document.getElementById('player-video');
                 const c = document.querySelector('canvas.search-overlay');
                 return { t: v.currentTime, box: c ? (c.dataset.box || null) : null }; }"""
        )
    )


def wait_at(page: Any, start: float) -> dict[str, Any]:
    page.wait_for_function(
        """(start) => { const v = document.getElementById('player-video');
             const c = document.querySelector('canvas.search-overlay');
             return v && v.readyState >= 2 && !v.seeking && Math.abs(v.currentTime - start) < 0.5
                    && c && c.dataset.box; }""",
        arg=start,
        timeout=20_000,
    )
    return player_state(page)


def test_drop_photo_play_moment_reject_and_refine(
    page_for: Any,
    live_server_url: str,
    case: Any,
    pets: Any,
    query_photos: dict[str, Path],
    artifacts_dir: Path,
) -> None:
    video = search_pets.store_pets(case, pets)
    page = open_case(page_for, live_server_url, case)
    drop_photo(page, query_photos["person"])
    page.wait_for_selector("#search-panel[data-state=results] li.hit", timeout=60_000)
    assert page.locator("#search-pack").inner_text()
    page.screenshot(path=str(artifacts_dir / "search-results.png"), full_page=True)

    query = Query.objects.get(case=case)
    hits = list(Hit.objects.filter(query=query).select_related("track").order_by("rank"))
    assert page.locator("li.hit").count() == len(hits) >= 10
    assert page.locator("li.hit").first.get_attribute("data-hit") == str(hits[0].pk)
    assert page.locator(f".timeline[data-video='{video.pk}'] .mark").count() == len(hits)

    # The top moment: the player seeks to its start and the person's box is drawn over the video.
    page.locator("li.hit .hit-open").first.click()
    state = wait_at(page, hits[0].start_s)
    assert abs(state["t"] - hits[0].start_s) < 0.5
    x, y, w, h = (float(v) for v in state["box"].split(","))
    assert x >= 0 and y >= 0 and w > 5 and h > 10
    page.locator("#player").screenshot(path=str(artifacts_dir / "search-player-overlay.png"))
    # Keyboard: N plays the next moment.
    page.locator("body").press("n")
    assert abs(wait_at(page, hits[1].start_s)["t"] - hits[1].start_s) < 0.5

    # Reject the best-ranked hit that is not the query's person, then refine.
    gt = search_pets.gt_boxes(search_pets.largest_query().gt_id)
    wrong = next(h for h in hits[1:] if search_pets.track_matches(h.track.boxes, gt) < 0.2)
    page.locator(f"li.hit[data-hit='{wrong.pk}'] button.reject").click()
    page.wait_for_selector(f"li.hit[data-hit='{wrong.pk}']", state="detached")
    page.locator("#search-refine").click()
    page.wait_for_function(
        "(old) => { const p = document.getElementById('search-panel');"
        " return p.dataset.query !== String(old) && p.dataset.state === 'results'; }",
        arg=query.pk,
        timeout=60_000,
    )
    refined = Query.objects.get(refined_from=query)
    tracks = {h.track_id for h in Hit.objects.filter(query=refined)}
    assert wrong.track_id not in tracks and len(tracks) >= 5
    shown = page.evaluate("() => window.sightline.search.doc.hits.map((h) => h.track)")
    assert wrong.track.track_id not in shown
    assert page.locator("li.hit").count() == len(tracks)
    page.screenshot(path=str(artifacts_dir / "search-refined.png"), full_page=True)


def test_photo_with_several_people_lets_the_user_pick(
    page_for: Any,
    live_server_url: str,
    case: Any,
    member_of: Any,
    pets: Any,
    query_photos: dict[str, Path],
    artifacts_dir: Path,
) -> None:
    search_pets.store_pets(case, pets)
    page = open_case(page_for, live_server_url, case)
    page.set_input_files("#search-file", str(query_photos["scene"]))  # the file picker this time
    page.wait_for_selector("#search-panel[data-state=choose_person] .candidate", timeout=60_000)
    candidates = page.locator("#search-picker .candidate")
    assert candidates.count() >= 3
    page.screenshot(path=str(artifacts_dir / "search-choose-person.png"), full_page=True)
    # A viewer sees the same query waiting, without the picker: choosing re-runs the search (a write).
    viewer = page_for(member_of("viewer"))
    viewer.goto(f"{live_server_url}/cases/{case.pk}/")
    viewer.click(".search-history-box summary")
    viewer.click("#search-history button")
    viewer.wait_for_selector("#search-panel[data-state=choose_person] #search-picker-wait")
    assert viewer.locator("#search-picker .candidate").count() == 0
    candidates.nth(1).click()
    page.wait_for_selector("#search-panel[data-state=results] li.hit", timeout=60_000)
    query = Query.objects.get(case=case)
    assert query.params["box"] == query.params["candidates"][1]["box"]


def test_find_a_person_clicked_in_a_paused_frame(
    page_for: Any, live_server_url: str, case: Any, pets: Any, artifacts_dir: Path
) -> None:
    video = search_pets.store_pets(case, pets)
    target = search_pets.largest_query()
    frame_t = next(f.t for tr in pets.ingest.tracks for f in tr.frames if f.frame == target.frame)
    page = open_case(page_for, live_server_url, case)
    page.wait_for_function("() => window.sightline && window.sightline.player")
    page.evaluate(
        "([id, url, t]) => window.sightline.player.open({ id, stream_url: url, name: 'PETS' }, t)",
        [video.pk, f"/cases/{case.pk}/videos/{video.pk}/stream", frame_t],
    )
    page.wait_for_function(
        "(t) => { const v = document.getElementById('player-video');"
        " return v.readyState >= 2 && !v.seeking && Math.abs(v.currentTime - t) < 0.05; }",
        arg=frame_t,
    )
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))
    page.locator("#search-in-frame").click()
    # Click the middle of the person's box, mapped from video pixels to the picking layer over the video.
    x, y, w, h = target.box
    rect = page.locator("#player-video").bounding_box()
    scale = min(rect["width"] / 768, rect["height"] / 576)
    left = (rect["width"] - 768 * scale) / 2
    top = (rect["height"] - 576 * scale) / 2
    page.locator(".frame-pick").click(
        position={"x": left + (x + w / 2) * scale, "y": top + (y + h / 2) * scale}
    )
    try:
        page.wait_for_function(
            "() => ['results', 'no_results', 'choose_person', 'no_person', 'failed']"
            ".includes(document.getElementById('search-panel').dataset.state)",
            timeout=60_000,
        )
    except Exception as exc:
        page.screenshot(path=str(artifacts_dir / "search-from-frame-failed.png"), full_page=True)
        layer = page.evaluate(
            "() => { const l = document.querySelector('.frame-pick'); const r = l.getBoundingClientRect();"
            " return [l.style.cssText, r.x, r.y, r.width, r.height]; }"
        )
        raise AssertionError(
            f"{page.locator('#search-status').inner_text()!r}; console: {console}; layer {layer}"
        ) from exc
    status = page.locator("#search-status").inner_text()
    assert page.locator("#search-panel").get_attribute("data-state") == "results", status
    query = Query.objects.get(case=case)
    assert query.params["point"] is not None
    assert search_pets.iou(tuple(query.params["box"]), target.box) >= 0.5, "searched for another person"
    page.screenshot(path=str(artifacts_dir / "search-from-frame.png"), full_page=True)


# Every state the moment's clip box shows, in order: the page redraws it on each event of the export job.
RECORD_CLIP_STATES = """(id) => {
  window.clipStates = [];
  const note = () => {
    const box = document.querySelector(`.clip-box[data-hit="${id}"]`);
    if (!box) return;
    const seen = { state: box.dataset.state, line: box.querySelector('.clip-line')?.textContent ?? '' };
    const last = window.clipStates.at(-1);
    if (!last || last.state !== seen.state || last.line !== seen.line) window.clipStates.push(seen);
  };
  const body = document.getElementById('search-body');
  new MutationObserver(note).observe(body, { childList: true, subtree: true });
}"""


def test_evidence_clip_with_progress_download_and_sha256(
    page_for: Any,
    live_server_url: str,
    case: Any,
    pets: Any,
    query_photos: dict[str, Path],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    from webapp.audit.models import AuditEvent
    from webapp.jobs.models import Job, JobKind, JobStatus

    search_pets.store_pets(case, pets)
    page = open_case(page_for, live_server_url, case)
    drop_photo(page, query_photos["person"])
    page.wait_for_selector("#search-panel[data-state=results] li.hit", timeout=60_000)
    # The longest moment: its cut takes long enough for progress to show.
    hit = max(Hit.objects.filter(query__case=case), key=lambda h: h.end_s - h.start_s)
    assert hit.end_s - hit.start_s > 5
    page.evaluate(RECORD_CLIP_STATES, str(hit.pk))
    page.locator(f"li.hit[data-hit='{hit.pk}'] button.clip").click()
    box = page.locator(f".clip-box[data-hit='{hit.pk}']")
    box.locator("a.clip-download").wait_for(timeout=60_000)
    states = page.evaluate("() => window.clipStates")
    assert states[-1]["state"] == "done"
    assert any(s["state"] == "running" and s["line"].startswith("Cutting the clip…") for s in states), states
    page.locator("#search-panel").screenshot(path=str(artifacts_dir / "search-clip-ready.png"))

    shown = box.locator(".clip-sha code").inner_text()
    with page.expect_download() as info:
        box.locator("a.clip-download").click()
    saved = tmp_path / "clip.mp4"
    info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == shown
    job = Job.objects.get(case=case, kind=JobKind.EXPORT)
    assert job.status == JobStatus.DONE and job.params["result"]["sha256"] == shown
    assert AuditEvent.objects.get(case_id=case.pk, action="search.export.clip").details["sha256"] == shown
