"""Websocket helpers for the security tests: a raw client with a chosen Origin, and waiting for a close."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def open_socket(
    base_url: str, case_id: int, cookie: str | None, origin: str | None = None
) -> ClientConnection:
    headers = {"Origin": origin or base_url}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    url = base_url.replace("http://", "ws://") + f"/ws/cases/{case_id}/"
    return connect(url, additional_headers=headers, open_timeout=10)


def hello(ws: ClientConnection) -> dict[str, Any]:
    message = dict(json.loads(ws.recv(timeout=10)))
    assert message["type"] == "hello", message
    return message


def messages_until_closed(ws: ClientConnection, timeout: float) -> tuple[list[dict[str, Any]], int | None]:
    """Everything the server sends until it closes the socket (or `timeout` passes: code None)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return seen, None
        try:
            seen.append(dict(json.loads(ws.recv(timeout=left))))
        except TimeoutError:
            return seen, None
        except ConnectionClosed as closed:
            return seen, closed.rcvd.code if closed.rcvd is not None else None


def job_event(case_id: int, job: int = 999_999) -> dict[str, Any]:
    return {"job": job, "case": case_id, "kind": "ingest", "status": "running", "stage": "analyse"}
