"""Real services for tests, as subprocesses: daphne and Celery workers on the test database, a websocket
client for the case socket, and sessions for logged-in users. Imported by conftest.py and by tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


# --- data and models on this machine ----------------------------------------------------------------------


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


def session_cookie(user: Any) -> str:
    """A real session (in the database) for `user`, as daphne will read it from the Cookie header."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


class CaseSocket:
    """A blocking websocket client on /ws/cases/<id>/ with the user's session cookie."""

    def __init__(self, base_url: str, case_id: int, cookie: str | None) -> None:
        from websockets.sync.client import connect

        headers = {"Origin": base_url}
        if cookie:
            headers["Cookie"] = f"sessionid={cookie}"
        url = base_url.replace("http://", "ws://") + f"/ws/cases/{case_id}/"
        self._stack = ExitStack()
        self.ws = self._stack.enter_context(connect(url, additional_headers=headers, open_timeout=10))

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
        self._stack.close()
