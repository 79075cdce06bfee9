"""Findings 1, 2, 9 (sockets) and 10 of the attacker probe: a case websocket follows its user's access while
it is open, its channel-group entries go when it closes, refused sockets are audited, and only the page's
own origin (scheme, host and port) may open one. Real daphne, Redis channel layer and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from live_services import session_cookie
from sockets import hello, job_event, messages_until_closed
from websockets.exceptions import InvalidStatus

from webapp.audit.models import AuditEvent
from webapp.cases import services as cases
from webapp.jobs.services import publish

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
CLOSED_FOR_ACCESS = 4404


def test_removed_member_is_disconnected_at_once_and_gets_no_event(
    live_server_url: str, ws_open: Any, case: Any, member_of: Any
) -> None:
    viewer = member_of("viewer")
    ws = ws_open(live_server_url, case.pk, session_cookie(viewer))
    hello(ws)
    cases.remove_member(case=case, user=viewer, actor=case.owner)
    publish(job_event(case.pk))  # sent after the removal: must not reach the removed viewer
    seen, code = messages_until_closed(ws, timeout=5)
    assert seen == [] and code == CLOSED_FOR_ACCESS


def test_role_change_keeps_the_socket_and_its_events(
    live_server_url: str, ws_open: Any, case: Any, member_of: Any
) -> None:
    viewer = member_of("viewer")
    ws = ws_open(live_server_url, case.pk, session_cookie(viewer))
    hello(ws)
    cases.add_member(case=case, user=viewer, role="editor", actor=case.owner)
    time.sleep(0.5)  # the access change is handled before the event
    publish(job_event(case.pk, job=7))
    assert json.loads(ws.recv(timeout=10))["job"] == 7
    ws.close()


def test_logout_closes_that_sessions_sockets_only(
    live_server_url: str, ws_open: Any, case: Any, member_of: Any
) -> None:
    editor = member_of("editor")
    leaving, staying = session_cookie(editor), session_cookie(editor)
    ws_leaving = ws_open(live_server_url, case.pk, leaving)
    ws_staying = ws_open(live_server_url, case.pk, staying)
    hello(ws_leaving)
    hello(ws_staying)
    client = Client()
    client.cookies["sessionid"] = leaving
    assert client.post("/accounts/logout/").status_code == 302
    publish(job_event(case.pk, job=8))
    seen, code = messages_until_closed(ws_leaving, timeout=5)
    assert seen == [] and code == CLOSED_FOR_ACCESS
    assert json.loads(ws_staying.recv(timeout=10))["job"] == 8
    ws_staying.close()


def test_deleted_case_and_deactivated_account_close_their_sockets(
    live_server_url: str, ws_open: Any, case: Any, member_of: Any, make_user: Any
) -> None:
    viewer, editor = member_of("viewer"), member_of("editor")
    ws_viewer = ws_open(live_server_url, case.pk, session_cookie(viewer))
    ws_owner = ws_open(live_server_url, case.pk, session_cookie(case.owner))
    hello(ws_viewer)
    hello(ws_owner)
    other = cases.create_case(owner=make_user(), title="Other")
    cases.add_member(case=other, user=editor, role="editor", actor=other.owner)
    ws_editor = ws_open(live_server_url, other.pk, session_cookie(editor))
    hello(ws_editor)

    cases.delete_case(case=case, actor=case.owner)
    editor.is_active = False
    editor.save()
    publish(job_event(case.pk))
    publish(job_event(other.pk))
    for ws in (ws_viewer, ws_owner, ws_editor):
        seen, code = messages_until_closed(ws, timeout=5)
        assert seen == [] and code == CLOSED_FOR_ACCESS


def test_socket_closes_when_its_session_expires(
    live_server_url: str, ws_open: Any, case: Any, member_of: Any
) -> None:
    viewer = member_of("viewer")
    cookie = session_cookie(viewer)
    Session.objects.filter(session_key=cookie).update(expire_date=timezone.now() + timedelta(seconds=2))
    ws = ws_open(live_server_url, case.pk, cookie)
    hello(ws)
    started = time.monotonic()
    seen, code = messages_until_closed(ws, timeout=6)
    assert seen == [] and code == CLOSED_FOR_ACCESS
    assert time.monotonic() - started < 4


def test_refused_socket_is_audited_once_per_window(
    live_server_url: str, ws_open: Any, case: Any, make_user: Any
) -> None:
    outsider = make_user()
    cookie = session_cookie(outsider)
    for _ in range(3):
        ws = ws_open(live_server_url, case.pk, cookie)
        seen, code = messages_until_closed(ws, timeout=5)
        assert seen == [] and code == CLOSED_FOR_ACCESS
    refused = AuditEvent.objects.filter(action="access.refused", case_id=case.pk, actor_id=outsider.pk)
    assert refused.count() == 1
    assert refused.get().details == {"path": f"/ws/cases/{case.pk}/", "status": 404}


def test_many_sockets_closed_at_once_leave_the_group_empty(
    live_server_url: str, ws_open: Any, case: Any
) -> None:
    """150 sockets closing together: with the stock pool, about 50 entries stayed in the group for 24 h."""
    cookie = session_cookie(case.owner)
    count = 150
    url = live_server_url.replace("http://", "ws://") + f"/ws/cases/{case.pk}/"
    headers = {"Origin": live_server_url, "Cookie": f"sessionid={cookie}"}
    store = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    group_key = f"{prefix}:group:case.{case.pk}"

    async def run() -> None:
        from websockets.asyncio.client import connect

        sockets = []
        for _ in range(0, count, 25):  # open in batches: the handshake is not what is tested
            batch = await asyncio.gather(
                *(connect(url, additional_headers=headers, open_timeout=30) for _ in range(25))
            )
            await asyncio.gather(*(ws.recv() for ws in batch))  # hello: joined the group
            sockets += batch
        assert store.zcard(group_key) == count
        ttl.append(store.ttl(group_key))
        await asyncio.gather(*(ws.close() for ws in sockets))

    ttl: list[int] = []
    asyncio.run(run())
    deadline = time.monotonic() + 15
    while store.zcard(group_key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.zcard(group_key) == 0
    # Entries of sockets that never left (a crashed process) expire soon, not after a day.
    assert 0 < ttl[0] <= 900


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:9999", "http://127.0.0.1:1", "https://{host}", "http://evil.example", "null"],
)
def test_websocket_origin_must_match_scheme_host_and_port(
    live_server_url: str, ws_open: Any, case: Any, origin: str
) -> None:
    cookie = session_cookie(case.owner)
    with pytest.raises(InvalidStatus) as refused:
        ws_open(live_server_url, case.pk, cookie, origin=origin.format(host=live_server_url[7:]))
    assert refused.value.response.status_code == 403
    hello(ws_open(live_server_url, case.pk, cookie))  # the page's own origin


def test_origin_behind_a_tls_proxy_follows_its_scheme_header(settings: Any) -> None:
    """nginx ends TLS and says so in X-Forwarded-Proto (prod settings): the page's origin is https."""
    from webapp.ws_origin import allowed_origin

    settings.ALLOWED_HOSTS = ["sightline.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CSRF_TRUSTED_ORIGINS = ["https://other.example"]
    behind = {"host": "sightline.example", "x-forwarded-proto": "https"}
    assert allowed_origin({**behind, "origin": "https://sightline.example"}, "ws")
    assert allowed_origin({**behind, "origin": "https://sightline.example:443"}, "ws")
    assert allowed_origin({**behind, "origin": "https://other.example"}, "ws")
    assert not allowed_origin({**behind, "origin": "http://sightline.example"}, "ws")
    assert not allowed_origin({**behind, "origin": "https://sightline.example:8443"}, "ws")
    assert not allowed_origin({"host": "evil.example", "origin": "https://evil.example"}, "wss")
