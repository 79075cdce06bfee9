"""One machine, the way scripts/start.sh runs the product: production behaviour without the reverse proxy.

DEBUG off (real error pages, nothing about the code or settings shown), static files collected with hashed
names and served by whitenoise, and no TLS requirement: start.sh listens on 127.0.0.1 only, where there is
no TLS to require. Sessions and cookies are base.py's, as everywhere. The secret key comes from SECRET_KEY
or is made once and kept (mode 600) in the data folder, so sessions outlive a restart.
scripts/start.sh with SIGHTLINE_DEV=1 runs webapp.settings.dev instead (DEBUG on, static from the source).
"""

import os
import secrets

from webapp.settings.base import *  # noqa: F403
from webapp.settings.env import env_str

DEBUG = False


def _kept_secret_key() -> str:
    """Made once: written whole to a temporary file, then linked into place (several processes may start
    at once; the link either makes the key or finds one already there, never half a file)."""
    path = DATA_DIR / "secret_key"  # noqa: F405
    if not path.exists():
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


DATA_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405
SECRET_KEY = env_str("SECRET_KEY", "") or _kept_secret_key()
