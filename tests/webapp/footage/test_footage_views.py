"""The footage HTTP endpoints through Django's test client on the real database: the tus protocol, turning
an upload into a video (or rejecting it, leaving nothing behind), Range streaming, and access rules."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from webapp.cases.models import Case, Membership, Role
from webapp.footage.models import Video, VideoStatus
from webapp.jobs.models import Job, JobKind, JobStatus

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture
def client_for(owner: User):
    def make(user: User | None = None) -> Client:
        client = Client()
        client.force_login(user or owner)
        return client

    return make


def metadata(name: str) -> str:
    return f"filename {base64.b64encode(name.encode()).decode()}"


def upload(client: Client, case: Case, data: bytes, name: str, *, piece: int = 3_000_000) -> str:
    created = client.post(
        f"/cases/{case.pk}/uploads/",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=metadata(name),
        **TUS,
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    offset = 0
    while offset < len(data):
        chunk = data[offset : offset + piece]
        answer = client.generic(
            "PATCH",
            location,
            chunk,
            content_type="application/offset+octet-stream",
            HTTP_UPLOAD_OFFSET=str(offset),
            **TUS,
        )
        assert answer.status_code == 204, answer.content
        offset = int(answer["Upload-Offset"])
    return location


def media_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_upload_in_pieces_becomes_a_video_with_the_source_sha256(
    client_for, case: Case, pets_clip: Path
) -> None:
    client = client_for()
    data = pets_clip.read_bytes()
    location = upload(client, case, data, "platform 2.avi")
    head = client.head(location, **TUS)
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (
        200,
        str(len(data)),
        str(len(data)),
    )
    done = client.post(f"{location}/complete", {"camera_label": "Platform 2"})
    assert done.status_code == 201, done.content
    video = Video.objects.get(pk=done.json()["video"]["id"])
    assert video.sha256 == hashlib.sha256(data).hexdigest()
    assert (video.size_bytes, video.width, video.height, video.codec) == (len(data), 768, 576, "msmpeg4")
    assert video.duration_s == pytest.approx(79.5, abs=0.1)
    assert video.fps == pytest.approx(10.0)
    assert (video.camera_label, video.original_name, video.status) == (
        "Platform 2",
        "platform 2.avi",
        "processing",
    )
    original = Path(video.original.path)
    assert original.name == "original.avi" and original.read_bytes() == data
    assert original.stat().st_mode & 0o222 == 0  # evidence: read-only
    job = Job.objects.get(video=video)
    assert (job.kind, job.status) == (JobKind.INGEST, JobStatus.QUEUED)
    # The upload keeps no data, only the record of the video it became (a repeated completion answers with
    # it); the record expires like any upload.
    folder = Path(settings.MEDIA_ROOT) / "uploads" / location.rsplit("/", 1)[-1]
    assert {p.name for p in folder.iterdir()} <= {"info.json", "lock"}
    assert json.loads((folder / "info.json").read_text())["video_id"] == video.pk


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("text", "not a video file"),
        ("image", "still image"),
        ("truncated", "truncated"),
        ("corrupt", "corrupt"),
        ("unknown_codec", "codec is not supported"),
    ],
)
def test_bad_upload_is_rejected_with_a_message_and_leaves_nothing(
    client_for, case: Case, bad_files: dict[str, Path], kind: str, words: str
) -> None:
    before = set(media_files())
    client = client_for()
    location = upload(client, case, bad_files[kind].read_bytes(), bad_files[kind].name)
    answer = client.post(f"{location}/complete")
    assert answer.status_code == 422
    assert words in answer.json()["error"]
    assert bad_files[kind].name in answer.json()["error"]
    assert not Video.objects.exists() and not Job.objects.exists()
    assert set(media_files()) == before  # no upload data, no video folder


def test_empty_file_is_refused_at_creation(client_for, case: Case) -> None:
    answer = client_for().post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="0", **TUS)
    assert answer.status_code == 400 and b"empty" in answer.content


def test_protocol_errors(client_for, case: Case, settings) -> None:
    client = client_for()
    assert client.post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="10").status_code == 412
    settings.SIGHTLINE_UPLOAD_MAX_BYTES = 1000
    too_big = client.post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="1001", **TUS)
    assert too_big.status_code == 413
    options = client.options(f"/cases/{case.pk}/uploads/")
    assert options["Tus-Max-Size"] == "1000" and "termination" in options["Tus-Extension"]
    location = client.post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="100", **TUS)["Location"]
    patch = {"content_type": "application/offset+octet-stream", **TUS}
    assert client.generic("PATCH", location, b"x" * 10, HTTP_UPLOAD_OFFSET="0", **patch).status_code == 204
    conflict = client.generic("PATCH", location, b"y" * 10, HTTP_UPLOAD_OFFSET="0", **patch)
    assert conflict.status_code == 409
    wrong_type = client.generic(
        "PATCH", location, b"y", content_type="text/plain", HTTP_UPLOAD_OFFSET="10", **TUS
    )
    assert wrong_type.status_code == 415
    unfinished = client.post(f"{location}/complete")
    assert unfinished.status_code == 422 and "not finished" in unfinished.json()["error"]
    assert client.delete(location, **TUS).status_code == 204
    assert client.head(location, **TUS).status_code == 404


def test_outsiders_get_404_and_viewers_cannot_upload(client_for, case: Case, make_user, member_of) -> None:
    video = Video.objects.create(case=case, original_name="x.avi", status=VideoStatus.READY)
    stranger = make_user("mallory")
    outsider = client_for(stranger)
    for url in (
        f"/cases/{case.pk}/videos/",
        f"/cases/{case.pk}/videos/{video.pk}/stream",
        f"/cases/{case.pk}/videos/{video.pk}/poster",
    ):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="10", **TUS).status_code == 404
    assert outsider.post(f"/cases/{case.pk}/videos/{video.pk}/delete").status_code == 404
    viewer = member_of(Role.VIEWER)
    assert (
        client_for(viewer).post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="10", **TUS).status_code
        == 403
    )
    assert client_for(viewer).get(f"/cases/{case.pk}/videos/").status_code == 200
    # An upload of this case is not reachable through another case's URL.
    other = Case.objects.create(title="Other", owner=stranger)
    Membership.objects.create(case=other, user=stranger, role=Role.OWNER)
    location = client_for().post(f"/cases/{case.pk}/uploads/", HTTP_UPLOAD_LENGTH="10", **TUS)["Location"]
    assert (
        outsider.head(location.replace(f"/cases/{case.pk}/", f"/cases/{other.pk}/"), **TUS).status_code == 404
    )


def test_stream_honours_range_requests(client_for, case: Case, tmp_path: Path) -> None:
    video = Video.objects.create(case=case, original_name="x.avi", status=VideoStatus.READY)
    relative = f"cases/{case.pk}/videos/{video.pk}/rendition.mp4"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytes(range(256)) * 4000
    path.write_bytes(data)
    video.rendition.name = relative
    video.save()
    client = client_for()
    url = f"/cases/{case.pk}/videos/{video.pk}/stream"

    def body(response) -> bytes:
        import asyncio

        async def collect() -> bytes:
            return b"".join([part async for part in response.streaming_content])

        return asyncio.run(collect())

    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert body(whole) == data
    for header, start, end in [
        ("bytes=0-99", 0, 99),
        ("bytes=500000-", 500000, len(data) - 1),
        ("bytes=-10", len(data) - 10, len(data) - 1),
    ]:
        part = client.get(url, HTTP_RANGE=header)
        assert part.status_code == 206
        assert part["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert int(part["Content-Length"]) == end - start + 1
        assert body(part) == data[start : end + 1]
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"


def test_x_accel_redirect_mode_hands_the_file_to_the_proxy(client_for, case: Case, settings) -> None:
    video = Video.objects.create(case=case, original_name="x.avi", status=VideoStatus.READY)
    relative = f"cases/{case.pk}/videos/{video.pk}/rendition.mp4"
    (Path(settings.MEDIA_ROOT) / relative).parent.mkdir(parents=True, exist_ok=True)
    (Path(settings.MEDIA_ROOT) / relative).write_bytes(b"0" * 100)
    video.rendition.name = relative
    video.save()
    settings.SIGHTLINE_X_ACCEL_REDIRECT = True
    settings.SIGHTLINE_X_ACCEL_PREFIX = "/protected-media/"
    answer = client_for().get(f"/cases/{case.pk}/videos/{video.pk}/stream", HTTP_RANGE="bytes=0-9")
    assert answer["X-Accel-Redirect"] == f"/protected-media/{relative}"
    assert answer.content == b""
