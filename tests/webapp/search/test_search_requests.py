"""Search requests the web process answers by itself: bad photos and empty cases are refused with a clear
message and leave nothing behind; access follows the case roles (outsiders get 404)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from webapp.audit.models import AuditEvent
from webapp.jobs.models import Job
from webapp.search import case_index, photos
from webapp.search.models import Query

pytestmark = [pytest.mark.django_db]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_photo(client: Client, case_id: int, data: bytes, name: str = "photo.jpg") -> Any:
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(f"/cases/{case_id}/search/", {"photo": upload})


def jpeg(width: int = 64, height: int = 128) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 60, 30)).save(out, format="JPEG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels: valid signature and header, a tiny data chunk. Decoding it
    would need gigabytes; refusing it must not decode anything."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def nothing_stored(case_id: int) -> None:
    assert not Query.objects.filter(case_id=case_id).exists()
    assert not Job.objects.filter(case_id=case_id).exists()
    assert not (Path(settings.MEDIA_ROOT) / "cases" / str(case_id) / "queries").exists()


@pytest.fixture
def searchable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad photos are refused before the case is looked at; tell the check the case has footage."""
    monkeypatch.setattr(case_index, "has_searchable_footage", lambda case_id: True)


def test_non_image_file_is_refused(case: Any, searchable: None) -> None:
    response = post_photo(
        client_for(case.owner), case.pk, b"%PDF-1.4 minutes of the meeting\n" * 50, "notes.pdf"
    )
    assert response.status_code == 422
    assert response.json()["error"] == "This file is not an image. Drop a photo (JPEG or PNG) of the person."
    nothing_stored(case.pk)


def test_huge_image_is_refused_by_the_decompression_bomb_guard(case: Any, searchable: None) -> None:
    data = png_header_only(40_000, 40_000)  # 1.6 gigapixels in a few hundred bytes
    assert len(data) < 1000
    response = post_photo(client_for(case.owner), case.pk, data, "huge.png")
    assert response.status_code == 422
    error = response.json()["error"]
    assert "too large (1600 megapixels)" in error and "Crop or resize" in error
    nothing_stored(case.pk)


def test_image_over_the_products_own_limit_is_refused(case: Any, searchable: None, settings: Any) -> None:
    settings.SIGHTLINE_QUERY_MAX_PIXELS = 5000
    response = post_photo(client_for(case.owner), case.pk, jpeg(64, 128))
    assert response.status_code == 422
    assert "too large (8,192 pixels); the limit is 5,000 pixels" in response.json()["error"]
    nothing_stored(case.pk)


def test_truncated_and_empty_photos_are_refused(case: Any, searchable: None) -> None:
    client = client_for(case.owner)
    response = post_photo(client, case.pk, jpeg(400, 800)[:600])
    assert response.status_code == 422
    assert "could not be read" in response.json()["error"]
    assert post_photo(client, case.pk, b"").json()["error"].startswith("The file is empty")
    assert client.post(f"/cases/{case.pk}/search/").json()["error"].startswith("Drop or choose a photo")
    nothing_stored(case.pk)


def test_search_on_an_empty_case_says_there_is_nothing_to_search(case: Any) -> None:
    response = post_photo(client_for(case.owner), case.pk, jpeg())
    assert response.status_code == 422
    assert response.json()["error"] == case_index.EMPTY_CASE_MESSAGE
    nothing_stored(case.pk)


def test_a_good_photo_is_stored_with_its_sha256_and_queued(case: Any, searchable: None) -> None:
    data = jpeg()
    response = post_photo(client_for(case.owner), case.pk, data)
    assert response.status_code == 202, response.content
    body = response.json()
    query = Query.objects.get(pk=body["query"]["id"])
    import hashlib

    assert query.photo_sha256 == hashlib.sha256(data).hexdigest()
    assert Path(query.photo.path).read_bytes() == data
    assert body["job"]["kind"] == "search" and body["job"]["status"] == "queued"
    assert body["query"]["state"] == "queued"
    assert AuditEvent.objects.filter(action="search.start", case_id=case.pk).count() == 1


def test_outsiders_get_404_and_roles_limit_feedback_and_exports(
    case: Any, member_of: Any, make_user: Any
) -> None:
    outsider = client_for(make_user())
    assert outsider.get(f"/cases/{case.pk}/search/").status_code == 404
    assert post_photo(outsider, case.pk, jpeg()).status_code == 404
    viewer = client_for(member_of("viewer"))
    assert viewer.get(f"/cases/{case.pk}/search/").status_code == 200
    assert viewer.post(f"/cases/{case.pk}/search/hits/1/verdict", {"verdict": "rejected"}).status_code == 403
    assert viewer.get(f"/cases/{case.pk}/search/queries/1/hits.csv").status_code == 403


def test_photo_check_limits_are_settings(settings: Any) -> None:
    settings.SIGHTLINE_QUERY_MAX_BYTES = 10
    with pytest.raises(photos.PhotoError, match="limit is 0 MB"):
        photos.check_photo(jpeg())
