"""The README's start command on a machine where PostgreSQL cannot be had: scripts/start.sh falls back to the
embedded mode by itself, serves the app, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.live_services import REPO, free_port


def test_start_falls_back_to_embedded_mode_when_postgres_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SIGHTLINE_MODE", "DJANGO_SETTINGS_MODULE")
    }
    # Nothing listens on these ports, and the machine's own cluster (if any) serves another one.
    env |= {
        "SIGHTLINE_PG_PORT": str(free_port()),
        "SIGHTLINE_REDIS_PORT": str(free_port()),
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "SIGHTLINE_ADMIN_PASSWORD": "a-long-admin-password",
    }
    log = (tmp_path / "start.log").open("wb")
    proc = subprocess.Popen(
        ["bash", "scripts/start.sh"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            output = (tmp_path / "start.log").read_text(errors="replace")
            if "open http://" in output:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                        health = response.status
                        break
                except OSError:
                    pass
            time.sleep(0.5)
        output = (tmp_path / "start.log").read_text(errors="replace")
        assert health == 200, output[-4000:]
        assert "mode: embedded (PostgreSQL or Redis not reachable)" in output, output[-4000:]
        assert (tmp_path / "data" / "sightline.sqlite3").is_file()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
            proc.wait(timeout=60)
        log.close()
    # Web server, worker and beat all stopped with it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("processes of start.sh still running after Ctrl-C")
