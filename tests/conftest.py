"""Shared fixtures: real services as subprocesses (daphne, Celery workers), users and cases, a websocket
client, and a Playwright browser on Debian's Chromium.

Everything here runs against the test database pytest-django creates (test_<name>), the test Redis DB
(settings.test) and a temporary media root; subprocesses get the same through their environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


# --- data and models on this machine ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared data folder (footage, models); a test that needs it fails loudly without it."""
    path = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.fail(f"shared data folder not found at {path} (set SIGHTLINE_SHARED_DIR)")
    return path


def models_dirs_env() -> dict[str, str]:
    """REID_MODELS_DIRS for subprocesses: the environment's, else the shared models folder when present."""
    if os.environ.get("REID_MODELS_DIRS"):
        return {"REID_MODELS_DIRS": os.environ["REID_MODELS_DIRS"]}
    models = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared")) / "models"
    return {"REID_MODELS_DIRS": str(models)} if models.is_dir() else {}


# --- subprocesses -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database this test session uses (pytest-django's test_<name> once it is set up)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a daphne or Celery subprocess that shares this test session's database and media."""
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": database_url(),
        "SIGHTLINE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        # Two worker processes may run at once on 2 cores: one engine thread each.
        "SIGHTLINE_ENGINE_THREADS": "1",
        **models_dirs_env(),
    }
    env.update(extra)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the Playwright thread only
    return env


@dataclass
class Service:
    """A subprocess in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    def start(self) -> Service:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self, tail: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: {what} not seen after {timeout} s:\n{self.log()}")

    def wait_log(self, pattern: str, timeout: float = 60) -> None:
        regex = re.compile(pattern)
        self.wait_for(lambda: bool(regex.search(self.log(tail=200_000))), timeout, repr(pattern))

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the whole group (a worker's pool included): what an OOM kill or a crash does."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def daphne_service(log_dir: Path, env: dict[str, str], port: int | None = None) -> Service:
    port = port or free_port()
    service = Service(
        name=f"daphne:{port}",
        args=[sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
        env=env,
        log_path=log_dir / f"daphne-{port}.log",
    ).start()
    service.port = port  # type: ignore[attr-defined]

    def accepting() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    service.wait_for(accepting, 30, "listening port")
    return service


def worker_service(
    log_dir: Path, env: dict[str, str], name: str, *, embedded: bool = False, queues: str = "ingest,search"
) -> Service:
    """A real `celery worker` (prefork, one child, as in production; solo on the filesystem transport)."""
    args = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-n", name]
    args += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    args += ["--pool", "solo", "--without-heartbeat"] if embedded else ["-c", "1"]
    service = Service(name=name, args=args, env=env, log_path=log_dir / f"worker-{name.split('@')[0]}.log")
    service.start()
    service.wait_log(r" ready\.", timeout=90)
    return service


def purge_test_broker() -> None:
    """Drop messages a previous (interrupted) run left on the test broker and channel layer."""
    from django.conf import settings

    if settings.EMBEDDED:
        return
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(scope="session")
def services_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def live_stack(
    django_db_setup: None, django_db_blocker: Any, services_log_dir: Path
) -> Iterator[dict[str, Any]]:
    """daphne + one Celery worker on the test database, for the whole session (stopped before the test
    database is dropped). Tests using it need `transactional_db` so their rows are visible to them."""
    with django_db_blocker.unblock():
        purge_test_broker()
        env = service_env()
    worker = worker_service(services_log_dir, env, "stack@testhost")
    web = daphne_service(services_log_dir, env)
    stack = {"url": f"http://127.0.0.1:{web.port}", "web": web, "worker": worker, "env": env}  # type: ignore[attr-defined]
    yield stack
    web.stop()
    worker.stop()


@pytest.fixture
def live_server_url(live_stack: dict[str, Any]) -> str:
    return str(live_stack["url"])


# --- people and cases ---------------------------------------------------------------------------------


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    from django.contrib.auth import get_user_model

    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = "a-long-test-password", **extra: Any) -> Any:
        name = username or f"user{next(counter)}"
        return get_user_model().objects.create_user(username=name, password=password, **extra)

    return make


@pytest.fixture
def owner(make_user: Callable[..., Any]) -> Any:
    return make_user("olivia")


@pytest.fixture
def case(owner: Any) -> Any:
    from webapp.cases import services

    return services.create_case(owner=owner, title="Station platform", description="Test case")


@pytest.fixture
def member_of(case: Any, make_user: Callable[..., Any]) -> Callable[[str], Any]:
    """A new user holding the given role ("editor"/"viewer") in `case`."""
    from webapp.cases import services

    def make(role: str) -> Any:
        user = make_user()
        services.add_member(case=case, user=user, role=role, actor=case.owner)
        return user

    return make


def session_cookie(user: Any) -> str:
    """A real session (in the database) for `user`, as daphne will read it from the Cookie header."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


# --- websocket client -------------------------------------------------------------------------------------


class CaseSocket:
    """A blocking websocket client on /ws/cases/<id>/ with the user's session cookie."""

    def __init__(self, base_url: str, case_id: int, cookie: str | None) -> None:
        from websockets.sync.client import connect

        headers = {"Origin": base_url}
        if cookie:
            headers["Cookie"] = f"sessionid={cookie}"
        url = base_url.replace("http://", "ws://") + f"/ws/cases/{case_id}/"
        self.ws = connect(url, additional_headers=headers, open_timeout=10)

    def receive(self, timeout: float = 30) -> dict[str, Any]:
        return dict(json.loads(self.ws.recv(timeout=timeout)))

    def events_until(
        self, done: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"condition not met after {timeout} s; saw {seen}")
            message = self.receive(timeout=left)
            seen.append(message)
            if done(message):
                return seen

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def open_case_socket() -> Iterator[Callable[..., CaseSocket]]:
    sockets: list[CaseSocket] = []

    def open_(base_url: str, case_id: int, cookie: str | None) -> CaseSocket:
        sock = CaseSocket(base_url, case_id, cookie)
        sockets.append(sock)
        return sock

    yield open_
    for sock in sockets:
        sock.close()


# --- browser --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def frontend_built() -> None:
    """static/dist is a build output: build it if missing (plain copy, no dependencies)."""
    if not (REPO / "static" / "dist" / "case_page.js").exists():
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is needed to build the frontend (scripts/setup.sh installs it)")
        subprocess.run([node, "build.mjs"], cwd=REPO / "frontend", check=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (Playwright's own download does not work here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup.sh --dev (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread; the test's own ORM calls are still plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(browser: Any, live_server_url: str, frontend_built: None) -> Iterator[Callable[[Any], Any]]:
    """A browser page already logged in as the given user (session cookie set on the context)."""
    contexts: list[Any] = []

    def make(user: Any | None) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        if user is not None:
            cookie = session_cookie(user)
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server_url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
