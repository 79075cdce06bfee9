"""Shared fixtures: real services as subprocesses (daphne, Celery workers), users and cases, a websocket
client, and a Playwright browser on Debian's Chromium.

Everything here runs against the test database pytest-django creates (test_<name>), the test Redis DB
(settings.test) and a temporary media root; subprocesses get the same through their environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_services import (
    REPO,
    CaseSocket,
    daphne_service,
    purge_test_broker,
    service_env,
    session_cookie,
    worker_service,
)

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: once Playwright has started, the test thread runs an event loop, and
    sync code that later calls async_to_sync (job events) in that thread would refuse to run."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared data folder (footage, models); a test that needs it fails loudly without it."""
    path = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.fail(f"shared data folder not found at {path} (set SIGHTLINE_SHARED_DIR)")
    return path


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


# --- websocket client -------------------------------------------------------------------------------------


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
    """static/dist is a build output: build it if missing or older than a source (plain copy, no
    dependencies), so a browser test never runs yesterday's scripts."""
    dist = REPO / "static" / "dist"
    sources = list((REPO / "frontend" / "src").glob("*.js"))
    stale = [
        s
        for s in sources
        if not (dist / s.name).exists() or (dist / s.name).stat().st_mtime < s.stat().st_mtime
    ]
    if stale or not (dist / "vendor").is_dir():
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
