"""Settings come from the environment; production refuses to start without its secrets and passes
Django's deployment checks; the embedded mode needs no server."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from live_services import REPO


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The Playwright fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for its own thread; production must not see it.
    unset = {"SECRET_KEY", "ALLOWED_HOSTS", "SIGHTLINE_MODE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deployment_checks() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="webapp.settings.prod",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="sightline.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_manage("check", DJANGO_SETTINGS_MODULE="webapp.settings.prod", ALLOWED_HOSTS="x.example.org")
    assert result.returncode != 0
    assert "Set the environment variable SECRET_KEY" in result.stderr


SHOW = """
from django.conf import settings
import json
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "threads": settings.SIGHTLINE_ENGINE_THREADS,
}))
"""


def test_embedded_mode_uses_no_server(tmp_path: Path) -> None:
    result = run_manage(
        "shell",
        "-c",
        SHOW,
        DJANGO_SETTINGS_MODULE="webapp.settings.dev",
        SIGHTLINE_MODE="embedded",
        SIGHTLINE_DATA_DIR=str(tmp_path / "fresh" / "data"),
        SIGHTLINE_CPU_CORES="2",
        SIGHTLINE_WORKER_CONCURRENCY="2",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown == {
        "db": "django.db.backends.sqlite3",
        "layer": "channels_lite.layers.core.SQLiteChannelLayer",
        "broker": "filesystem://",
        "threads": 1,  # 2 worker processes x 1 thread on 2 cores
    }
    assert (tmp_path / "fresh" / "data").is_dir()


def test_a_mistyped_mode_is_a_clear_error() -> None:
    result = run_manage("check", DJANGO_SETTINGS_MODULE="webapp.settings.dev", SIGHTLINE_MODE="embeded")
    assert result.returncode != 0
    assert "SIGHTLINE_MODE='embeded': use 'services' or 'embedded'" in result.stderr


SHOW_LOCAL = """
import json
from django.conf import settings as s
from webapp.settings import base
print(json.dumps({
    "debug": s.DEBUG,
    "session_age": [s.SESSION_COOKIE_AGE, base.SESSION_COOKIE_AGE],
    "https_only": [getattr(s, "SECURE_SSL_REDIRECT", False), s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE],
    "static": s.STORAGES["staticfiles"]["BACKEND"],
    "whitenoise": "whitenoise.middleware.WhiteNoiseMiddleware" in s.MIDDLEWARE,
    "key": s.SECRET_KEY,
}))
"""


def test_start_scripts_settings_are_production_without_tls(tmp_path: Path) -> None:
    """webapp.settings.local, what scripts/start.sh runs: DEBUG off, hashed static files served by whitenoise,
    no HTTPS requirement (127.0.0.1), base.py's sessions, and a secret key made once and kept."""
    data = tmp_path / "data"

    def show() -> dict[str, object]:
        result = run_manage(
            "shell", "-c", SHOW_LOCAL, DJANGO_SETTINGS_MODULE="webapp.settings.local",
            SIGHTLINE_MODE="embedded", SIGHTLINE_DATA_DIR=str(data),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    first, second = show(), show()
    assert first["debug"] is False
    age = first["session_age"]
    assert isinstance(age, list) and age[0] == age[1]  # inherited, not set again
    assert first["https_only"] == [False, False, False]
    assert first["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert first["whitenoise"]
    key_file = data / "secret_key"
    assert len(str(first["key"])) >= 50 and first["key"] == second["key"] == key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Developer mode stays one setting away.
    start = (REPO / "scripts" / "start.sh").read_text()
    assert "webapp.settings.local" in start and 'SIGHTLINE_DEV:-0} == 1' in start
