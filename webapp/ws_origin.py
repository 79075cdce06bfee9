"""The case websocket accepts exactly the origins a form POST would (Django's CSRF origin rule): the
page's own scheme, host and port, or one listed in CSRF_TRUSTED_ORIGINS.

Channels' AllowedHostsOriginValidator compares only the host name with ALLOWED_HOSTS, so a page on any
port of an allowed host (http://localhost:9999, another local app) could open a user's case socket with
their cookie. Browsers always send Origin on websocket handshakes; a request without one is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(value: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def allowed_origin(headers: dict[str, str], scheme: str) -> bool:
    """``headers``: the handshake's headers, lower-case names; ``scheme``: the ASGI scope's (ws or wss)."""
    origin = _origin(headers.get("origin", ""))
    host = headers.get("host", "")
    if origin is None or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    secure = scheme == "wss"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:  # the proxy ending TLS says so, as for Django's request.is_secure()
        name, value = proxy
        secure = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower(), "") == value
    page = _origin(f"{'https' if secure else 'http'}://{host}")
    trusted = {_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    return origin == page or origin in trusted


class SameOriginValidator:
    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not allowed_origin(headers, scope.get("scheme", "ws")):
                return await WebsocketDenier()(scope, receive, send)  # type: ignore[arg-type]
        return await self.application(scope, receive, send)
