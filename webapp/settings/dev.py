"""Development: DEBUG on by default, a fixed insecure key only when none is given."""

from webapp.settings.base import *  # noqa: F403
from webapp.settings.env import env_bool, env_str

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "") or "dev-only-insecure-key-never-used-in-production"
WHITENOISE_USE_FINDERS = True  # serve static/ straight from the source tree, no collectstatic needed
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
