"""Serve a media file with HTTP Range support, so the player can seek without downloading the file.

Django's FileResponse ignores Range and always answers 200 with the whole file. Here:
- ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> 206 with Content-Range; unsatisfiable -> 416;
  several ranges in one header are answered with the first one only (browsers' players send one).
- The body is an async generator: under ASGI (daphne) Django would otherwise read a sync iterator into
  memory whole before sending it.
- Production: with ``SIGHTLINE_X_ACCEL_REDIRECT`` on, the permission check still happens here and the
  bytes are left to nginx (``X-Accel-Redirect: <SIGHTLINE_X_ACCEL_PREFIX><path under MEDIA_ROOT>``),
  which honours Range itself. nginx side, see docs/deployment.md:
      location /protected-media/ { internal; alias <MEDIA_ROOT>/; }
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

_RANGE_RE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_BLOCK = 256 * 1024


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str, size: int) -> ByteRange | None:
    """The byte range a Range header asks for, ``None`` to send the whole file."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None  # unknown units are ignored (RFC 9110 14.2)
    first = spec.split(",")[0]
    match = _RANGE_RE.match(first)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    start_text, end_text = match.groups()
    if not start_text:  # suffix: the last n bytes
        n = int(end_text)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable()
        return ByteRange(max(0, size - n), size - 1)
    start = int(start_text)
    end = int(end_text) if end_text else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable()
    return ByteRange(start, min(end, size - 1))


def ranged_file_response(
    request: HttpRequest, path: Path, *, content_type: str | None = None
) -> HttpResponseBase:
    """Answer GET/HEAD for ``path`` (already permission-checked by the caller) honouring Range."""
    ctype = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if getattr(settings, "SIGHTLINE_X_ACCEL_REDIRECT", False):
        relative = path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve())
        handed = HttpResponse(content_type=ctype)
        handed["X-Accel-Redirect"] = quote(f"{settings.SIGHTLINE_X_ACCEL_PREFIX.rstrip('/')}/{relative}")
        return handed

    size = path.stat().st_size
    header = request.headers.get("Range", "")
    try:
        byte_range = parse_range(header, size) if header else None
    except RangeNotSatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        refused["Accept-Ranges"] = "bytes"
        return refused
    if byte_range is None:
        byte_range, status = ByteRange(0, size - 1), 200
    else:
        status = 206
    if request.method == "HEAD" or size == 0:
        response: HttpResponseBase = HttpResponse(status=status, content_type=ctype)
    else:
        response = StreamingHttpResponse(
            _read(path, byte_range.start, byte_range.length), status=status, content_type=ctype
        )
    response["Content-Length"] = str(byte_range.length if size else 0)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    response["Cache-Control"] = "private, max-age=3600"
    return response


async def _read(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    # Local-disk reads of 256 KiB are short; a thread per block would cost more than it saves.
    fd = os.open(path, os.O_RDONLY)
    try:
        remaining = length
        offset = start
        while remaining > 0:
            block = os.pread(fd, min(_BLOCK, remaining), offset)
            if not block:
                break
            offset += len(block)
            remaining -= len(block)
            yield block
    finally:
        os.close(fd)
