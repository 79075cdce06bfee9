"""Footage test files: the real PETS clip and bad inputs made from it in a temporary folder."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    return Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def pets_clip() -> Path:
    path = shared_dir() / "data" / "pets09_s2l1" / "vtest.avi"
    if not path.exists():
        pytest.fail(f"the PETS clip is missing at {path}: set SIGHTLINE_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def bad_files(pets_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file per way an upload can be unacceptable, each made from real bytes."""
    folder = tmp_path_factory.mktemp("bad-footage")
    data = pets_clip.read_bytes()
    files = {
        "empty": folder / "empty.avi",
        "text": folder / "notes.mp4",
        "image": folder / "photo.jpg",
        "truncated": folder / "truncated.avi",
        "corrupt": folder / "corrupt.avi",
        "unknown_codec": folder / "unknown_codec.avi",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("minutes of the meeting, not a video\n" * 20)
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 10, 10)).save(files["image"], format="JPEG")
    files["truncated"].write_bytes(data[: len(data) // 2])
    damaged = bytearray(data)
    rng = random.Random(1)
    for i in range(20_000, len(damaged) - 200_000, 997):
        damaged[i] = rng.randrange(256)
    files["corrupt"].write_bytes(bytes(damaged))
    # Replace the AVI's codec FourCC (stream header and bitmap header) with one no decoder knows.
    tagged = bytearray(data)
    fourcc = bytes(tagged[112:116])
    assert fourcc.lower() == b"div3" and bytes(tagged[188:192]).lower() == b"div3"
    tagged[112:116] = tagged[188:192] = b"ZQX9"
    files["unknown_codec"].write_bytes(bytes(tagged))
    return files


def cut_clip(source: Path, target: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as MPEG-4 AVI (keeps tests of a whole ingest short)."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        encoded = out.add_stream("mpeg4", rate=stream.average_rate)
        encoded.width, encoded.height, encoded.pix_fmt = stream.width, stream.height, "yuv420p"
        encoded.options = {"qscale": "3"}
        for i, frame in enumerate(inp.decode(stream)):
            if i >= frames:
                break
            for packet in encoded.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in encoded.encode(None):
            out.mux(packet)
    return target


@pytest.fixture(scope="session")
def short_clip(pets_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """15 s of the PETS clip (150 frames): a whole ingest takes seconds, not a minute."""
    return cut_clip(pets_clip, tmp_path_factory.mktemp("clips") / "pets-15s.avi", 150)


# --- real Celery workers that a test can kill -------------------------------------------------------------
def worker_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    shared = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        # The test database pytest-django created, so the worker sees the rows the test commits.
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "SIGHTLINE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    models = shared / "models"
    if models.exists() and "REID_MODELS_DIRS" not in os.environ:
        env["REID_MODELS_DIRS"] = str(models)
    return env


class Worker:
    """``celery worker`` on the ingest queue in its own process group (so a kill takes its pool too)."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                "ingest",
                "-n",
                name,
                "-c",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=worker_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()}")
            time.sleep(0.2)
        raise TimeoutError(f"worker {self.name} not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the worker and its pool: what a crashed machine or an OOM-killed container does."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def footage_workers(tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    """Start ingest workers by node name; every one still running is stopped at the end."""
    from webapp.celery import app

    app.control.purge()  # messages a previous run may have left on the test broker
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(name, tmp_path / f"{name.replace('@', '-')}-{len(started)}.log")
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
