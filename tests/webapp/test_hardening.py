"""Hardening through real requests: login throttling, password rules, security headers, request limits,
untrusted upload names and contents, decompression bombs."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from media_samples import tiny_video_bytes

from webapp.audit.models import AuditEvent

PASSWORD = "a-long-test-password"


def login(client: Client, username: str, password: str, address: str) -> int:
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return int(response.status_code)


def test_login_is_throttled_per_username_and_address(make_user: Any) -> None:
    make_user("frank", password=PASSWORD)
    make_user("grace", password=PASSWORD)
    attacker = Client()
    limit = settings.AXES_FAILURE_LIMIT
    # Failures show the form again (200) until the limit; from then on this pair gets 429.
    statuses = [login(attacker, "frank", f"guess-{i}", "203.0.113.9") for i in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]
    assert login(attacker, "frank", PASSWORD, "203.0.113.9") == 429  # even the right password
    # The real Frank elsewhere, and other people at the same address, are not locked out.
    assert login(Client(), "frank", PASSWORD, "198.51.100.7") == 302
    assert login(Client(), "grace", PASSWORD, "203.0.113.9") == 302
    events = AuditEvent.objects.filter(client_address="203.0.113.9").order_by("id")
    actions = [e.action for e in events]
    assert actions.count("auth.login_failed") == limit + 1
    assert "auth.locked_out" in actions
    assert actions[-1] == "auth.login"  # grace
    assert all(e.actor_label == "anonymous (frank)" for e in events if e.action != "auth.login")


def test_password_rules() -> None:
    from django.contrib.auth.models import User

    frank = User(username="frank-the-investigator")
    for weak in ("short1", "password1234", "1234567890123", "frank-the-investigator"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=frank)
    validate_password("violet mountain kettle 42")


def test_security_headers_on_pages(client: Any, case: Any) -> None:
    client.force_login(case.owner)
    response = client.get(f"/cases/{case.pk}/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    # Strict: this origin's files only. No 'unsafe-inline'/'unsafe-hashes'/'unsafe-eval', no hash or nonce.
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert "unsafe-" not in csp and "sha256-" not in csp and "nonce-" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.cookies.get("sessionid") is None or response.cookies["sessionid"]["httponly"]


def test_every_unsafe_request_needs_the_csrf_token(case: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(case.owner)
    for url in (
        f"/cases/{case.pk}/members/",
        f"/cases/{case.pk}/links/",
        f"/cases/{case.pk}/delete",
        f"/cases/{case.pk}/jobs/selfcheck/",
        f"/cases/{case.pk}/search/",
        "/accounts/logout/",
    ):
        assert client.post(url, {"confirm": case.title}).status_code == 403, url
    assert client.patch(f"/cases/{case.pk}/uploads/x", b"", HTTP_TUS_RESUMABLE="1.0.0").status_code == 403
    assert client.get(f"/cases/{case.pk}/").status_code == 200  # nothing was deleted


def test_request_bodies_over_the_limit_are_refused(client: Any, case: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client.force_login(case.owner)
    response = client.post(f"/cases/{case.pk}/members/", {"identifier": "x" * 20_000, "role": "viewer"})
    assert response.status_code == 400
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    response = client.post(f"/cases/{case.pk}/members/", {f"f{i}": "1" for i in range(50)})
    assert response.status_code == 400


def tus_upload(client: Client, case_id: int, name: str, body: bytes) -> Any:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    created = client.post(
        f"/cases/{case_id}/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(len(body)),
        HTTP_UPLOAD_METADATA=meta,
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    patched = client.patch(
        location,
        body,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )
    assert patched.status_code == 204, patched.content
    return client.post(location + "/complete")


def test_upload_names_never_reach_the_disk_and_contents_are_sniffed(
    client: Any, case: Any, tmp_path: Path
) -> None:
    from webapp.footage.models import Video

    client.force_login(case.owner)
    media = Path(settings.MEDIA_ROOT)
    # A text file called .mp4 is refused for what it is, not what it is called.
    refused = tus_upload(client, case.pk, "holiday.mp4", b"this is not a video at all\n" * 100)
    assert refused.status_code == 422 and "holiday.mp4" in refused.json()["error"]
    response = tus_upload(client, case.pk, "../../../../etc/cron.d/evil.mp4", tiny_video_bytes())
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["video"]["id"])
    assert video.original.name == f"cases/{case.pk}/videos/{video.pk}/original.mp4"
    assert video.original_name == "../../../../etc/cron.d/evil.mp4"  # kept for display only
    assert not any("evil" in str(path) or "cron" in str(path) for path in media.rglob("*"))
    assert not (media / "cases" / str(case.pk) / "../../../../etc/cron.d/evil.mp4").resolve().exists()


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_photo_is_refused_before_decoding(client: Any, case: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(case.owner)
    bomb = SimpleUploadedFile("person.png", png_claiming(40_000, 40_000), content_type="image/png")
    response = client.post(f"/cases/{case.pk}/search/", {"photo": bomb})
    assert response.status_code == 422
    assert "pixels" in response.json()["error"] or "large" in response.json()["error"]
