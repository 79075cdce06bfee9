"""Tests: a separate database (pytest-django creates test_<name>), a separate Redis DB, temporary media."""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from webapp.settings.base import *  # noqa: F403
from webapp.settings.env import env_int, env_str

DEBUG = False
SECRET_KEY = "test-only-insecure-key"  # noqa: S105
# Fast hashing: tests create many users; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
MEDIA_ROOT = Path(env_str("SIGHTLINE_MEDIA_ROOT", tempfile.mkdtemp(prefix="sightline-test-media-")))


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


if not EMBEDDED:  # noqa: F405
    # Same Redis server as REDIS_URL, its own DB number, so tests never touch the app's queues.
    REDIS_URL = _with_db(REDIS_URL, env_int("SIGHTLINE_TEST_REDIS_DB", 15))  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [redis_channel_host(REDIS_URL)]  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "sightline-test"  # noqa: F405
    CELERY_BROKER_URL = REDIS_URL
