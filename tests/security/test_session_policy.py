"""Finding 5: one session lifetime and cookie policy for every way the product serves users (8 hours, as
docs/security.md says). Under start.sh (which ran the dev settings) sessions lasted Django's 14 days."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from http_browser import Browser
from live_services import REPO

SETTINGS = REPO / "webapp" / "settings"
EIGHT_HOURS = 8 * 3600
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.SESSION_COOKIE_AGE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
    "s.CSRF_COOKIE_SAMESITE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE]))"
)


def settings_modules() -> list[str]:
    """Every settings module a process can run with (whatever is added later is checked too)."""
    return sorted(
        f"webapp.settings.{p.stem}"
        for p in SETTINGS.glob("*.py")
        if p.stem not in {"__init__", "base", "env"}
    )


@pytest.mark.parametrize("module", settings_modules())
def test_every_settings_module_has_the_same_session_policy(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"SESSION_COOKIE_AGE", "DJANGO_SETTINGS_MODULE"}}
    env.update(DJANGO_SETTINGS_MODULE=module, SECRET_KEY="x" * 50, ALLOWED_HOSTS="sightline.example")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [EIGHT_HOURS, True, "Lax", "Lax", False]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_login_through_daphne_gets_an_eight_hour_cookie(live_server_url: str, make_user: Any) -> None:
    make_user("sam")
    browser = Browser(live_server_url)
    assert browser.login("sam", "a-long-test-password") == 302
    session = next(c for c in browser.jar if c.name == "sessionid")
    assert session.expires is not None
    assert abs(session.expires - time.time() - EIGHT_HOURS) < 120
    assert session.has_nonstandard_attr("HttpOnly")


def test_start_script_runs_a_module_checked_above() -> None:
    script = (REPO / "scripts" / "start.sh").read_text()
    used = {m for m in settings_modules() if m in script}
    assert used, "start.sh names no settings module"
    assert all(Path(SETTINGS / f"{m.rsplit('.', 1)[1]}.py").exists() for m in used)
