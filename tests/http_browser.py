"""A cookie-keeping HTTP client over real sockets that posts forms the way a browser does (CSRF token from
the cookie) and does not follow redirects, so tests see each status."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """A cookie-keeping HTTP client that posts forms the way a browser does (CSRF token from the cookie)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def csrf(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken":
                return str(cookie.value)
        self.request("GET", "/accounts/login/")
        return self.csrf()

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = None
        headers = {}
        if method == "POST":
            form = {**(data or {}), "csrfmiddlewaretoken": self.csrf()}
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode(errors="replace")

    def get(self, path: str) -> int:
        return self.request("GET", path)[0]

    def post(self, path: str, data: dict[str, str] | None = None) -> int:
        return self.request("POST", path, data)[0]

    def login(self, username: str, password: str) -> int:
        return self.post("/accounts/login/", {"username": username, "password": password})

    def json(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        """A request with a raw body and headers (tus); returns (status, headers, body)."""
        all_headers = {"X-CSRFToken": self.csrf(), **(headers or {})}
        req = urllib.request.Request(self.base + path, data=body or None, method=method, headers=all_headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return int(response.status), dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return int(error.code), dict(error.headers), error.read()
