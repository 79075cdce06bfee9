"""The README's start command on a machine where PostgreSQL cannot be had: scripts/start.sh falls back to the
embedded mode by itself, serves the app the way users run it (DEBUG off, real error pages, static files
served), and Ctrl-C leaves no process behind. Launched from a shell in the background, where SIGINT is
ignored and cannot be trapped, SIGTERM stops everything. Whatever happens, the test itself leaves nothing
running: SIGTERM, then SIGKILL to the whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from live_services import REPO, free_port

# Starts start.sh with SIGINT at its default (a terminal's Ctrl-C) or ignored (a background launch from a
# non-interactive shell), whatever the disposition pytest itself was started with.
LAUNCH = "import os, signal, sys; signal.signal(signal.SIGINT, signal.{}); os.execvp('bash', sys.argv[1:])"


def start(tmp_path: Path, *, sigint: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SIGHTLINE_MODE", "DJANGO_SETTINGS_MODULE", "SIGHTLINE_DEV")
    }
    # Nothing listens on these ports, and the machine's own cluster (if any) serves another one.
    env |= {
        "SIGHTLINE_PG_PORT": str(free_port()),
        "SIGHTLINE_REDIS_PORT": str(free_port()),
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "SIGHTLINE_ADMIN_PASSWORD": "a-long-admin-password",
    }
    log_path = tmp_path / "start.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH.format(sigint), "bash", "scripts/start.sh"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, port, log_path


def wait_healthy(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if "open http://" in log_path.read_text(errors="replace"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError(log_path.read_text(errors="replace")[-4000:])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()  # reaps start.sh once it exits: a zombie still counts as a member of its group
        if not group_alive(proc.pid):
            return True
        time.sleep(0.25)
    proc.poll()
    return not group_alive(proc.pid)


def force_stop(proc: subprocess.Popen[bytes]) -> None:
    """The test's own cleanup, whatever state start.sh is in: SIGTERM to the group, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if not group_alive(proc.pid):
            break
        os.killpg(proc.pid, sig)
        wait_group_gone(proc, grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def test_start_falls_back_to_embedded_mode_serves_without_debug_and_ctrl_c_stops_all(tmp_path: Path) -> None:
    proc, port, log_path = start(tmp_path, sigint="SIG_DFL")
    stopped_by_ctrl_c = False
    try:
        wait_healthy(proc, port, log_path)
        output = log_path.read_text(errors="replace")
        assert "mode: embedded (PostgreSQL or Redis not reachable)" in output, output[-4000:]
        assert (tmp_path / "data" / "sightline.sqlite3").is_file()
        # DEBUG off: a missing page is the product's own 404 page, not Django's debug page.
        status, body = get(f"http://127.0.0.1:{port}/favicon.ico")
        assert status == 404
        assert "Not found" in body and "DEBUG = True" not in body and "URLconf" not in body, body[:2000]
        # Static files collected and served by the app itself (no DEBUG, no web server in front).
        status, css = get(f"http://127.0.0.1:{port}/static/css/app.css")
        assert status == 200 and css.strip()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
        stopped_by_ctrl_c = wait_group_gone(proc, 60)
    finally:
        force_stop(proc)
    assert not group_alive(proc.pid), "the test's own cleanup left processes running"
    assert stopped_by_ctrl_c, "processes of start.sh still running 60 s after Ctrl-C"


def test_sigterm_stops_everything_when_sigint_is_ignored(tmp_path: Path) -> None:
    proc, port, log_path = start(tmp_path, sigint="SIG_IGN")
    stopped_by_sigterm = False
    try:
        wait_healthy(proc, port, log_path)
        proc.send_signal(signal.SIGTERM)  # to start.sh alone: its trap stops what it started
        stopped_by_sigterm = wait_group_gone(proc, 60)
    finally:
        force_stop(proc)
    assert not group_alive(proc.pid), "the test's own cleanup left processes running"
    assert stopped_by_sigterm, log_path.read_text(errors="replace")[-3000:]
    assert "stopping" in log_path.read_text(errors="replace")
