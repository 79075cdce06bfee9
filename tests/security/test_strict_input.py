"""Finding 3 of the attacker probe: crafted input gets a clear 4xx, never a 500, and loses nothing.
Requests go through real daphne and PostgreSQL (tests/http_browser.Browser speaks HTTP like a browser)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from http_browser import Browser
from media_samples import results_fixture, tiny_video_bytes

from webapp.cases.models import Case
from webapp.footage.models import Video

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-test-password"
TUS = {"Tus-Resumable": "1.0.0"}


def signed_in(url: str, user: Any) -> Browser:
    browser = Browser(url)
    assert browser.login(user.get_username(), PASSWORD) == 302
    return browser


def metadata(**values: bytes) -> str:
    return ",".join(f"{k} {base64.b64encode(v).decode()}" for k, v in values.items())


def uploaded(browser: Browser, case_id: int, name: bytes = b"cam.mp4") -> str:
    """A finished tus upload of a tiny real video; returns its path."""
    body = tiny_video_bytes()
    status, headers, _ = browser.raw(
        "POST",
        f"/cases/{case_id}/uploads/",
        headers={**TUS, "Upload-Length": str(len(body)), "Upload-Metadata": metadata(filename=name)},
    )
    assert status == 201
    location = headers["Location"]
    status, _, _ = browser.raw(
        "PATCH",
        location,
        body,
        {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert status == 204
    return str(location)


@pytest.mark.parametrize("header", ["Upload-Length", "Upload-Offset"])
def test_tus_numbers_are_ascii_digits_only(live_server_url: str, case: Any, header: str) -> None:
    owner = signed_in(live_server_url, case.owner)
    if header == "Upload-Length":
        status, _, body = owner.raw("POST", f"/cases/{case.pk}/uploads/", headers={**TUS, header: "²"})
    else:
        status, headers, _ = owner.raw(
            "POST", f"/cases/{case.pk}/uploads/", headers={**TUS, "Upload-Length": "10"}
        )
        assert status == 201
        status, _, body = owner.raw(
            "PATCH",
            headers["Location"],
            b"x",
            {**TUS, header: "²", "Content-Type": "application/offset+octet-stream"},
        )
    assert status == 400, body[:300]


@pytest.mark.parametrize("name", [b"cam\x00.mp4", b"cam\x1b[2J.mp4", b"cam\n.mp4"])
def test_tus_file_name_with_control_characters_is_refused(
    live_server_url: str, case: Any, name: bytes
) -> None:
    owner = signed_in(live_server_url, case.owner)
    uploads = Path(settings.MEDIA_ROOT) / "uploads"
    before = set(uploads.glob("*")) if uploads.exists() else set()
    status, _, body = owner.raw(
        "POST",
        f"/cases/{case.pk}/uploads/",
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(filename=name)},
    )
    assert status == 400 and b"control characters" in body
    assert (set(uploads.glob("*")) if uploads.exists() else set()) == before


def test_camera_label_with_nul_is_refused_and_the_upload_still_completes(
    live_server_url: str, case: Any
) -> None:
    owner = signed_in(live_server_url, case.owner)
    location = uploaded(owner, case.pk)
    status, body = owner.request("POST", f"{location}/complete", {"camera_label": "Gate\x003"})
    assert status == 400, body[:300]
    status, body = owner.request("POST", f"{location}/complete", {"camera_label": "Gate 3"})
    assert status == 201, body[:300]
    assert Video.objects.get(case=case).camera_label == "Gate 3"


@pytest.mark.parametrize("text", ["Night\x00shift", "Night\x1b[31mshift"])
def test_case_names_and_labels_with_control_characters_are_refused(
    live_server_url: str, case: Any, member_of: Any, text: str
) -> None:
    owner = signed_in(live_server_url, case.owner)
    assert owner.post("/cases/new/", {"title": text, "description": ""}) == 400
    assert owner.post(f"/cases/{case.pk}/links/", {"role": "viewer", "days": "7", "label": text}) == 400
    assert Case.objects.count() == 1 and not case.share_links.exists()
    _, hit = results_fixture(case)
    video = hit.track.video
    status, _ = owner.request("POST", f"/cases/{case.pk}/videos/{video.pk}/details", {"camera_label": text})
    assert status == 400
    # Line breaks and tabs stay allowed in multi-line text.
    assert owner.post("/cases/new/", {"title": "Platform 2", "description": "line one\r\n\tline two"}) == 302


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2, 3, 4]", b'"box"', b"\xff\xfe", b'{"box": [NaN, 1, 2, 3]}', b'{"box": "\\u0000"}'],
)
def test_json_endpoints_answer_any_body_without_a_500(live_server_url: str, case: Any, body: bytes) -> None:
    query, hit = results_fixture(case)
    owner = signed_in(live_server_url, case.owner)
    json_type = {"Content-Type": "application/json"}
    for path in (
        f"/cases/{case.pk}/search/queries/{query.pk}/choose",
        f"/cases/{case.pk}/search/hits/{hit.pk}/verdict",
    ):
        status, _, answer = owner.raw("POST", path, body, json_type)
        assert status in (400, 422), (path, status, answer[:300])
    hit.refresh_from_db()
    assert hit.verdict == ""  # a list body did not clear or set anything


def test_three_simultaneous_completions_make_one_video(live_server_url: str, case: Any) -> None:
    browsers = [signed_in(live_server_url, case.owner) for _ in range(3)]
    location = uploaded(browsers[0], case.pk)
    results: list[tuple[int, str]] = []
    start = threading.Barrier(3)

    def complete(browser: Browser) -> None:
        start.wait()
        results.append(browser.request("POST", f"{location}/complete", {"camera_label": "Gate 3"}))

    threads = [threading.Thread(target=complete, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(status for status, _ in results) == [201, 201, 201], results
    video = Video.objects.get(case=case)
    assert {json.loads(body)["video"]["id"] for _, body in results} == {video.pk}
    videos_dir = Path(settings.MEDIA_ROOT) / "cases" / str(case.pk) / "videos"
    assert [p.name for p in videos_dir.iterdir()] == [str(video.pk)]
    assert Path(video.original.path).stat().st_size == len(tiny_video_bytes())
    upload_dir = Path(settings.MEDIA_ROOT) / "uploads" / location.rsplit("/", 1)[1]
    assert not (upload_dir / "data").exists()  # only the record of which video it became
