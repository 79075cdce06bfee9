"""Tests: a separate database (pytest-django creates test_<name>), a separate Redis DB, temporary media."""

import tempfile
from pathlib import Path

from webapp.settings.base import *  # noqa: F403
from webapp.settings.env import env_str

DEBUG = False
SECRET_KEY = "test-only-insecure-key"  # noqa: S105
# Fast hashing: tests create many users; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
MEDIA_ROOT = Path(env_str("SIGHTLINE_MEDIA_ROOT", tempfile.mkdtemp(prefix="sightline-test-media-")))

if not EMBEDDED:  # noqa: F405
    REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/15")
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [REDIS_URL]  # noqa: F405
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    # Subprocesses (daphne, celery) get the test database's real name through DATABASE_URL.
