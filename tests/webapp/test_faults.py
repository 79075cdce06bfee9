"""Faults: PostgreSQL and Redis restarting while a video is being analysed.

These run on their OWN PostgreSQL cluster (initdb in a temporary folder, a free port) and their OWN
redis-server (a free port), never on the shared services other people and CI use. daphne and a Celery worker
run as real subprocesses on them. Checked: the job in flight ends in a clear state (done, or failed with a
message and retryable), the app answers again by itself, a new websocket catches up, nothing uploaded is lost.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from http_browser import Browser
from live_services import REPO, CaseSocket, daphne_service, free_port, models_dirs_env, worker_service

pytestmark = [pytest.mark.services, pytest.mark.slow]

PASSWORD = "a-long-test-password"
FINISHED = {"done", "failed", "cancelled"}


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
    return found[-1]


def as_postgres(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


@dataclass
class OwnPostgres:
    folder: Path
    port: int

    def ctl(self, *args: str) -> None:
        log = str(self.folder / "server.log")
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres([pg_bin("pg_ctl"), "-D", str(self.folder / "data"), "-l", log, "-o", opts, "-w", *args])

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/sightline_fault"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    # Not under pytest's temporary folder: the postgres user cannot enter root's private folders.
    folder = Path(tempfile.mkdtemp(prefix="sightline-own-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    as_postgres([pg_bin("initdb"), "-D", str(folder / "data"), "-U", "postgres", "--auth=trust"])
    server = OwnPostgres(folder, free_port())
    server.ctl("start")
    try:
        as_postgres([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(server.port), "sightline_fault"])
        yield server
    finally:
        server.ctl("stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class OwnRedis:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        args += ["no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout
            != b"PONG\n"
        ):
            assert time.monotonic() < deadline, "own redis-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a crash: nothing saved (the shared one keeps nothing on disk either)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path_factory.mktemp("own-redis"), free_port())
    server.start()
    yield server
    server.stop()


def synthetic_video(path: Path, seconds: int = 30) -> bytes:
    """Moving shapes at 10 fps, 320x240: long enough for a restart to land mid-analysis."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(seconds * 10):
            image = np.full((240, 320, 3), 90, np.uint8)
            x = (i * 3) % 260
            image[60:200, x : x + 40] = (200, 60, 60)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path.read_bytes()


def upload(browser: Browser, case_id: int, name: str, body: bytes) -> int:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    tus = {"Tus-Resumable": "1.0.0"}
    status, headers, _ = browser.raw(
        "POST",
        f"/cases/{case_id}/uploads/",
        headers={**tus, "Upload-Length": str(len(body)), "Upload-Metadata": meta},
    )
    assert status == 201
    location = headers["Location"]
    status, _, _ = browser.raw(
        "PATCH",
        location,
        body,
        {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert status == 204
    status, _, answer = browser.raw("POST", location + "/complete")
    assert status == 201, answer
    return int(json.loads(answer)["video"]["job"]["job"])


def job(browser: Browser, case_id: int, job_id: int) -> dict[str, Any]:
    jobs = browser.json(f"/cases/{case_id}/jobs/")["jobs"]
    return next(j for j in jobs if j["job"] == job_id)


def wait_job(browser: Browser, case_id: int, job_id: int, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = job(browser, case_id, job_id)
        except (AssertionError, OSError):  # the web process itself may be reconnecting
            time.sleep(0.5)
            continue
        if done(last):
            return last
        time.sleep(0.3)
    raise TimeoutError(f"job {job_id}: condition not met in {timeout} s; last {last}")


@pytest.fixture(scope="module")
def stack(
    own_postgres: OwnPostgres, own_redis: OwnRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """daphne + a Celery worker on the own PostgreSQL and Redis, a signed-in owner and a case."""
    folder = tmp_path_factory.mktemp("faults")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": own_postgres.url,
        "REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "SIGHTLINE_TEST_REDIS_DB": "0",
        "SIGHTLINE_MEDIA_ROOT": str(folder / "media"),
        "SIGHTLINE_ENGINE_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        **models_dirs_env(),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=300, cwd=REPO)
    setup = (
        "from django.contrib.auth.models import User; from webapp.cases import services; "
        f"u = User.objects.create_user('olivia', password='{PASSWORD}'); "
        "print(services.create_case(owner=u, title='Faults').pk)"
    )
    shell = [*manage, "shell", "-c", setup]
    out = subprocess.run(shell, env=env, check=True, timeout=120, cwd=REPO, text=True, capture_output=True)
    case_id = int(out.stdout.strip().splitlines()[-1])
    logs = folder / "logs"
    logs.mkdir()
    worker = worker_service(logs, env, "faults@testhost")
    web = daphne_service(logs, env)
    base = f"http://127.0.0.1:{web.port}"  # type: ignore[attr-defined]
    browser = Browser(base)
    assert browser.login("olivia", PASSWORD) == 302
    try:
        yield {
            "base": base,
            "browser": browser,
            "case": case_id,
            "video": synthetic_video(folder / "walk.mp4"),
            "worker": worker,
        }
    finally:
        web.stop()
        worker.stop()


def test_redis_restart_mid_job(stack: dict[str, Any], own_redis: OwnRedis) -> None:
    """Broker and channel layer gone for a moment: the job still finishes (events are best effort), and a
    page that reconnects joins the group again and catches up over HTTP."""
    browser, case_id = stack["browser"], stack["case"]
    job_id = upload(browser, case_id, "during-redis.mp4", stack["video"])
    wait_job(browser, case_id, job_id, lambda j: j["status"] == "running" and j["progress"] > 0.02, 120)
    own_redis.stop()
    own_redis.start()
    state = wait_job(browser, case_id, job_id, lambda j: j["status"] in FINISHED, 180)
    assert state["status"] == "done", state
    cookie = next(c.value for c in browser.jar if c.name == "sessionid")
    sock = CaseSocket(stack["base"], case_id, cookie)
    try:
        assert sock.receive(timeout=20)["type"] == "hello"
    finally:
        sock.close()
    assert job(browser, case_id, job_id)["progress"] == 1.0


def test_postgres_restart_mid_job_leaves_a_clear_state(
    stack: dict[str, Any], own_postgres: OwnPostgres
) -> None:
    browser, case_id = stack["browser"], stack["case"]
    job_id = upload(browser, case_id, "during-postgres.mp4", stack["video"])
    wait_job(browser, case_id, job_id, lambda j: j["status"] == "running" and j["progress"] > 0.02, 120)
    own_postgres.ctl("restart", "-m", "fast")
    # The analysis of this clip takes about 10 s: a clear state is due well within a minute.
    state = wait_job(browser, case_id, job_id, lambda j: j["status"] in FINISHED, 60)
    assert state["status"] == "done" or (state["status"] == "failed" and state["error"]), state


def test_the_app_recovered_by_itself(stack: dict[str, Any]) -> None:
    """After both restarts, without touching any process: pages answer and a new job runs end to end, and
    every uploaded video is still there."""
    browser, case_id = stack["browser"], stack["case"]
    assert browser.get(f"/cases/{case_id}/") == 200
    status, body = browser.request("POST", f"/cases/{case_id}/jobs/selfcheck/")
    assert status == 201, body
    check = int(json.loads(body)["job"])
    assert wait_job(browser, case_id, check, lambda j: j["status"] in FINISHED, 120)["status"] == "done"
    videos = browser.json(f"/cases/{case_id}/videos/")["videos"]
    assert sorted(v["name"] for v in videos) == ["during-postgres.mp4", "during-redis.mp4"]
    assert next(v for v in videos if v["name"] == "during-redis.mp4")["status"] == "ready"
