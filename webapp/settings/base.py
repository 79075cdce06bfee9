"""Settings shared by every environment. Everything that differs between machines comes from the environment.

Two run modes (SIGHTLINE_MODE):
- "services": PostgreSQL (DATABASE_URL) + Redis (REDIS_URL) for the channel layer and the Celery broker.
- "embedded": no server at all: SQLite, a SQLite channel layer (channels-lite) and Celery's filesystem
  transport, all under SIGHTLINE_DATA_DIR. Measured to work across processes (web + worker).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from webapp.settings.env import env_bool, env_int, env_list, env_paths, env_str

# Lets admin classes be written with type parameters (admin.ModelAdmin[Case]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

MODE = env_str("SIGHTLINE_MODE", "services")
if MODE not in {"services", "embedded"}:
    raise ImproperlyConfigured(f"SIGHTLINE_MODE={MODE!r}: use 'services' or 'embedded'.")
EMBEDDED = MODE == "embedded"

DATA_DIR = Path(env_str("SIGHTLINE_DATA_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env_str("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves HTTP and websockets in development
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",  # login throttling per username + client address
    "csp",
    "webapp.cases",
    "webapp.footage",
    "webapp.search",
    "webapp.jobs",
    "webapp.audit",
]
if EMBEDDED:
    INSTALLED_APPS.append("channels_lite")

MIDDLEWARE = [
    "webapp.health.HealthCheckMiddleware",  # first: answers probes before host checks and HTTPS redirects
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "webapp.strict_input.StrictInputMiddleware",  # 400 for control characters in any text field
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webapp.cases.middleware.RefusedAccessMiddleware",  # records 403/404 refusals on a case's URLs
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into a 429 page
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------------------
if EMBEDDED:
    # SQLite creates the file but not its folder; a first run must not fail on a missing directory.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("SIGHTLINE_SQLITE_PATH", str(DATA_DIR / "sightline.sqlite3"))),
            # WAL + IMMEDIATE transactions: web server and worker write without "database is locked".
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline"),
            # 0: under ASGI (daphne) each request may run in another thread, and persistent connections
            # are never closed: bench/load_bench.py with 20 users exhausted PostgreSQL's 100 connections.
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
            conn_health_checks=True,
        )
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -------------------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out username+address pairs
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("SIGHTLINE_PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one client address,
# that pair is refused (429) for the cool-off time; other addresses and other usernames are not affected, so
# an attacker cannot lock a colleague out from elsewhere. Counts live in the database (shared by all web
# processes). Our own audit log records the attempts, so axes keeps no access log of its own.
AXES_FAILURE_LIMIT = env_int("SIGHTLINE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGHTLINE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_CLIENT_IP_CALLABLE = "webapp.audit.services.client_address"  # the same address the audit log keeps
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static and media files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("SIGHTLINE_STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("SIGHTLINE_MEDIA_ROOT", str(DATA_DIR / "media"))).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads of several GB go through the footage app's chunked protocol, never one request body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("SIGHTLINE_MAX_REQUEST_BYTES", 32 * 1024 * 1024)
FILE_UPLOAD_PERMISSIONS = 0o640

# --- engine -----------------------------------------------------------------------------------------------
# os.pathsep-separated directories searched for model files before the bundled default pack.
REID_MODELS_DIRS = env_paths("REID_MODELS_DIRS")
SIGHTLINE_MODEL_PACK = env_str("SIGHTLINE_MODEL_PACK", "auto")

# --- Redis, channels, Celery ------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_channel_host(url: str) -> dict[str, Any]:
    """A channel-layer host: the URL, and no client read timeout.

    The layer waits for messages with a blocking BZPOPMIN of up to 5 s on the server. redis-py 8 made the
    client's socket_timeout default to 5 s, so every idle wait raced that timeout and lost: the consumer died
    with "TimeoutError: Timeout reading from ...", the socket closed with 1011 and the page reconnected every
    few seconds (channels_redis#422, still open; redis-py#4091). None restores redis-py 7's
    behaviour; keepalive still finds a dead peer. tests/webapp/test_live_channel.py holds an idle socket.
    """
    return {"address": url, "socket_timeout": None, "socket_keepalive": True}


CHANNEL_LAYERS: dict[str, dict[str, Any]]
if EMBEDDED:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "default", "polling_interval": 0.1},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis with a bounded pool that waits for a free connection: with the stock pool,
            # 150 sockets closing at once failed to leave their groups ("Too many connections").
            "BACKEND": "webapp.channel_layer.BoundedRedisChannelLayer",
            "CONFIG": {
                "hosts": [redis_channel_host(REDIS_URL)],
                "prefix": env_str("SIGHTLINE_CHANNEL_PREFIX", "sightline"),
                # A group entry a socket could not remove (a crashed process) is gone after this; open
                # sockets renew theirs well before (SIGHTLINE_SOCKET_RECHECK_S).
                "group_expiry": env_int("SIGHTLINE_GROUP_EXPIRY_S", 900),
                "max_connections": env_int("SIGHTLINE_CHANNEL_MAX_CONNECTIONS", 50),
            },
        }
    }
# An open case websocket checks its user's access again at least this often (and at once when membership,
# the account or the session changes), renewing its group entries at the same time.
SIGHTLINE_SOCKET_RECHECK_S = env_int("SIGHTLINE_SOCKET_RECHECK_S", 300)

# Processes x threads <= cores: one worker process by default, and the engine's ONNX/OpenMP threads share
# the cores among the worker's processes (see webapp/engine.py).
CPU_CORES = env_int("SIGHTLINE_CPU_CORES", os.cpu_count() or 1)
CELERY_WORKER_CONCURRENCY = max(1, env_int("SIGHTLINE_WORKER_CONCURRENCY", 1))
SIGHTLINE_ENGINE_THREADS = max(1, env_int("SIGHTLINE_ENGINE_THREADS", CPU_CORES // CELERY_WORKER_CONCURRENCY))

CELERY_TASK_SOFT_TIME_LIMIT = env_int("SIGHTLINE_TASK_SOFT_TIME_LIMIT_S", 6 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 120
CELERY_TASK_ACKS_LATE = True
# A worker killed mid-task gives its message back, so another worker (or the restarted one) redoes the job.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # job state lives in the Job row, not in a result backend
CELERY_TASK_DEFAULT_QUEUE = "ingest"
CELERY_TASK_ROUTES = {
    # Maintenance is quick: the search queue, so it never waits behind hours of analysis.
    "webapp.footage.tasks.sweep_stale_jobs": {"queue": "search"},
    "webapp.cases.tasks.*": {"queue": "search"},
    "webapp.search.tasks.*": {"queue": "search"},
    "webapp.jobs.tasks.*": {"queue": "search"},
    "webapp.footage.tasks.*": {"queue": "ingest"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if EMBEDDED:
    BROKER_DIR = DATA_DIR / "broker"
    # The filesystem transport needs its folders before anyone publishes or polls (web and worker alike).
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables; kombu's default is a "control" folder in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    # With late acks, Redis hands an unacknowledged message to another worker after this many seconds:
    # it must outlast the longest task, or a long ingest would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}

# Media files are handed to the reverse proxy (nginx X-Accel-Redirect) after the permission check when on.
SIGHTLINE_X_ACCEL_REDIRECT = env_bool("SIGHTLINE_X_ACCEL_REDIRECT", False)
SIGHTLINE_X_ACCEL_PREFIX = env_str("SIGHTLINE_X_ACCEL_PREFIX", "/protected-media/")

# --- data lifecycle -----------------------------------------------------------------------------------------
# Footage uploaded more than this many days ago is deleted (apply_retention command / periodic task) unless
# its case is locked as evidence. 0 keeps footage forever.
SIGHTLINE_RETENTION_DAYS = env_int("SIGHTLINE_RETENTION_DAYS", 0)
# Periodic work, sent by `celery -A webapp beat` (scripts/start.sh and the compose file run one): the sweep
# that re-sends ingest jobs a dead worker left running (a worker restarting under the same name does it at
# once; this catches workers that never come back) and expires abandoned uploads, and the daily retention
# when SIGHTLINE_RETENTION_DAYS is set. `manage.py apply_retention` does the latter from cron instead.
SIGHTLINE_SWEEP_INTERVAL_S = max(1, env_int("SIGHTLINE_SWEEP_INTERVAL_S", 300))
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    "sweep-stale-jobs": {
        "task": "webapp.footage.tasks.sweep_stale_jobs",
        "schedule": float(SIGHTLINE_SWEEP_INTERVAL_S),
    },
    **(
        {"retention": {"task": "webapp.cases.tasks.apply_retention", "schedule": 24 * 3600.0}}
        if SIGHTLINE_RETENTION_DAYS > 0
        else {}
    ),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- security defaults (prod.py tightens them) --------------------------------------------------------------
# Content Security Policy: only this origin's scripts, styles, images and media, no inline script or style
# (no <style> blocks, style="" attributes or on* handlers: pages link static files; scripts set styles
# through the CSSOM, which the policy does not restrict), no framing. blob: carries the dropped query photo
# preview; 'self' covers the same-origin websocket.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 5
# One session and cookie policy for every way the product runs (start.sh, dev, compose, prod): 8-hour
# sessions, HttpOnly, SameSite=Lax. Only the Secure flag differs: prod.py sets it (HTTPS behind the proxy).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # faiss logs each CPU build it tries at INFO ("could not load ... AVX512"): noise, not a fault.
        "faiss.loader": {"level": "WARNING"},
    },
}
