"""Resumable uploads kept on disk, for the tus 1.0 protocol (core + creation, termination, expiration).

Each upload is a folder ``<root>/<id>/`` holding ``data`` (the bytes so far) and ``info.json`` (case, user,
announced length, client metadata, expiry, and the sha256 once complete). The offset is the size of
``data``: bytes are only ever appended, so what a crash leaves on disk is always a valid prefix and the
client resumes from it. The sha256 is computed while the bytes arrive; its running state lives in the
serving process (hashlib states cannot be stored), and when a PATCH lands in another process, or after a
restart, the prefix already on disk is hashed once to catch up.

Why not a package: django-tus (last release 2020) predates Django 4 and writes through its own signals with
no hook for incremental hashing or per-case permission; drf-tus needs Django REST framework and its own
upload model and migrations. The protocol subset we need is small and fully tested here.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from webapp.strict_input import TextRefused, one_line

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_CATCH_UP_CHUNK = 4 * 1024 * 1024


class UploadError(Exception):
    """A request the protocol refuses; ``status`` is the HTTP status the view answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class UploadInfo:
    id: str
    case_id: int
    user_id: int
    length: int
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    expires_at: float = 0.0
    sha256: str = ""
    video_id: int | None = None  # set once the upload became a video (its data file moved there)
    offset: int = 0  # not stored: the size of the data file (the length once it became a video)

    @property
    def complete(self) -> bool:
        return self.offset == self.length

    @property
    def filename(self) -> str:
        return self.metadata.get("filename", "")


# upload id -> (bytes hashed, running sha256) for uploads this process has been receiving.
_hashers: dict[str, tuple[int, hashlib._Hash]] = {}
_hashers_lock = threading.Lock()


class UploadStore:
    def __init__(self, root: Path, *, max_bytes: int, expiry_s: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.expiry_s = expiry_s

    # --- paths -------------------------------------------------------------------------------------------
    def _dir(self, upload_id: str) -> Path:
        if not _ID_RE.match(upload_id):
            raise UploadError(404, "No such upload.")
        return self.root / upload_id

    def data_path(self, upload_id: str) -> Path:
        return self._dir(upload_id) / "data"

    # --- protocol operations -------------------------------------------------------------------------------
    def create(self, *, case_id: int, user_id: int, length: int, metadata: dict[str, str]) -> UploadInfo:
        if length < 0:
            raise UploadError(400, "Upload-Length must be a whole number of bytes.")
        if length > self.max_bytes:
            raise UploadError(
                413, f"The file is {length} bytes; the limit on this server is {self.max_bytes} bytes."
            )
        if length == 0:
            raise UploadError(400, "The file is empty (0 bytes).")
        self.expire()
        now = time.time()
        info = UploadInfo(
            id=uuid.uuid4().hex,
            case_id=case_id,
            user_id=user_id,
            length=length,
            metadata=metadata,
            created_at=now,
            expires_at=now + self.expiry_s,
        )
        directory = self._dir(info.id)
        directory.mkdir(parents=True)
        (directory / "data").touch()
        self._write_info(info)
        return info

    def get(self, upload_id: str) -> UploadInfo:
        directory = self._dir(upload_id)
        for attempt in range(2):
            try:
                raw = json.loads((directory / "info.json").read_text())
                offset = raw["length"] if raw.get("video_id") else (directory / "data").stat().st_size
                break
            except (FileNotFoundError, json.JSONDecodeError, KeyError) as exc:
                # Read once more: a completion may have just moved the data and recorded its video.
                if attempt:
                    raise UploadError(404, "No such upload (it may have expired).") from exc
        raw.pop("offset", None)
        info = UploadInfo(**raw, offset=offset)
        if info.expires_at < time.time() and not info.complete:
            raise UploadError(410, "This upload expired; start it again.")
        return info

    def append(self, upload_id: str, *, offset: int, chunks: Iterable[bytes]) -> UploadInfo:
        """Append a PATCH body at ``offset`` (which must equal the stored offset)."""
        directory = self._dir(upload_id)
        with self._locked(directory):
            info = self.get(upload_id)
            if info.video_id is not None:
                raise UploadError(409, "This upload is complete and already became a video.")
            if offset != info.offset:
                raise UploadError(409, f"Upload-Offset {offset} does not match the server's {info.offset}.")
            hasher = self._hasher(upload_id, info.offset)
            written = info.offset
            try:
                with open(directory / "data", "ab") as out:
                    for chunk in chunks:
                        if written + len(chunk) > info.length:
                            raise UploadError(413, "The body goes past the announced Upload-Length.")
                        out.write(chunk)
                        hasher.update(chunk)
                        written += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                # Whatever reached the file is hashed: keep the state so the next PATCH continues from it.
                with _hashers_lock:
                    _hashers[upload_id] = (written, hasher)
            info.offset = written
            info.expires_at = time.time() + self.expiry_s
            if info.complete:
                info.sha256 = hasher.hexdigest()
                with _hashers_lock:
                    _hashers.pop(upload_id, None)
            self._write_info(info)
            return info

    @contextmanager
    def completing(self, upload_id: str, *, wait_s: float = 60) -> Iterator[UploadInfo]:
        """Hold the upload's lock (waiting for a PATCH or another completion to finish) and yield its info
        as it is then: concurrent completions run one after the other, and the later ones find the video
        the first one made (``video_id``) instead of a missing file."""
        with self._locked(self._dir(upload_id), wait_s=wait_s):
            yield self.get(upload_id)

    def mark_video(self, info: UploadInfo, video_id: int) -> None:
        """Record that the upload's data became this video (its file was moved there). The folder keeps
        only info.json, so a repeated completion answers with the same video; it expires like any upload."""
        info.video_id = video_id
        info.expires_at = time.time() + self.expiry_s
        (self._dir(info.id) / "data").unlink(missing_ok=True)
        with _hashers_lock:
            _hashers.pop(info.id, None)
        self._write_info(info)

    def terminate(self, upload_id: str) -> None:
        directory = self._dir(upload_id)
        if not directory.exists():
            raise UploadError(404, "No such upload.")
        self.discard(upload_id)

    def discard(self, upload_id: str) -> None:
        """Remove an upload's folder whatever its state (after it became a video, or was rejected)."""
        with _hashers_lock:
            _hashers.pop(upload_id, None)
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)

    def expire(self) -> int:
        """Remove uploads nobody touched before their expiry. Returns how many were removed."""
        if not self.root.exists():
            return 0
        removed = 0
        now = time.time()
        for directory in self.root.iterdir():
            if not _ID_RE.match(directory.name):
                continue
            try:
                info = json.loads((directory / "info.json").read_text())
                expired = info["expires_at"] < now
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                # A folder without readable info is what a crash during create() leaves: old ones go.
                expired = directory.stat().st_mtime + self.expiry_s < now
            if expired:
                self.discard(directory.name)
                removed += 1
        return removed

    # --- internals ---------------------------------------------------------------------------------------
    def _hasher(self, upload_id: str, offset: int) -> hashlib._Hash:
        with _hashers_lock:
            cached = _hashers.get(upload_id)
        if cached is not None and cached[0] == offset:
            return cached[1]
        hasher = hashlib.sha256()
        with open(self.data_path(upload_id), "rb") as data:
            remaining = offset
            while remaining:
                block = data.read(min(_CATCH_UP_CHUNK, remaining))
                if not block:
                    break
                hasher.update(block)
                remaining -= len(block)
        return hasher

    def _write_info(self, info: UploadInfo) -> None:
        directory = self._dir(info.id)
        tmp = directory / "info.json.tmp"
        payload = asdict(info)
        payload.pop("offset")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, directory / "info.json")

    @contextmanager
    def _locked(self, directory: Path, *, wait_s: float = 0) -> Iterator[None]:
        # One PATCH or completion at a time per upload, across threads and processes. A PATCH does not
        # wait (the client retries); a completion waits for the one before it.
        try:
            handle = open(directory / "lock", "a")  # noqa: SIM115 - closed in finally
        except FileNotFoundError as exc:
            raise UploadError(404, "No such upload.") from exc
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        message = "Another request is writing to this upload; retry shortly."
                        raise UploadError(423, message) from exc
                    time.sleep(0.05)
            if not (directory / "info.json").exists():  # removed by the request that held the lock
                raise UploadError(404, "No such upload.")
            yield
        finally:
            handle.close()


def parse_metadata(header: str) -> dict[str, str]:
    """Decode tus ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    result: dict[str, str] = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            text = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UploadError(400, f"Upload-Metadata value for {key!r} is not base64 UTF-8.") from exc
        try:
            result[one_line(key, "A metadata key")] = one_line(text, f"The upload's {key}")
        except TextRefused as exc:
            raise UploadError(400, str(exc)) from exc
    return result
