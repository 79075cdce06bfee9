"""The live channel holds: a case websocket left idle on the real Redis channel layer, through a real daphne,
stays open far past the interval at which redis-py 8's default read timeout used to tear it down (about 5 s:
the channel layer's blocking read waits up to 5 s itself), and still carries the next event."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from live_services import CaseSocket, daphne_service, service_env, session_cookie

pytestmark = pytest.mark.services

IDLE_S = 35


@pytest.mark.django_db(transaction=True)
def test_idle_case_socket_stays_open_and_still_receives(case: Any, tmp_path: Path) -> None:
    from channels.layers import get_channel_layer
    from channels_redis.core import RedisChannelLayer

    from webapp.jobs.events import EVENT_TYPE, case_group

    assert isinstance(get_channel_layer(), RedisChannelLayer)
    web = daphne_service(tmp_path, service_env())
    sock = None
    try:
        sock = CaseSocket(f"http://127.0.0.1:{web.port}", case.pk, session_cookie(case.owner))  # type: ignore[attr-defined]
        assert sock.receive(timeout=10)["type"] == "hello"
        started = time.monotonic()
        # Nothing is sent for IDLE_S seconds: recv must time out, not see the socket closed (a consumer torn
        # down by the channel layer closes it with 1011, and the page would reconnect).
        with pytest.raises(TimeoutError):
            sock.ws.recv(timeout=IDLE_S)
        assert time.monotonic() - started >= IDLE_S
        sock.ws.ping().wait(timeout=5)  # the connection itself is alive, not only unread

        event = {"job": 1, "case": case.pk, "kind": "ingest", "status": "running", "progress": 0.5}
        send = async_to_sync(get_channel_layer().group_send)
        send(case_group(case.pk), {"type": EVENT_TYPE, "event": event})
        message = sock.receive(timeout=10)
        assert message == {"type": "job", **event}
    finally:
        if sock is not None:
            sock.close()
        web.stop()
    log = web.log(tail=1_000_000)
    assert "Traceback" not in log and "TimeoutError" not in log, log[-4000:]
