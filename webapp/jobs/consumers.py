"""The case websocket: join the case's group (and the user's) if allowed, forward job events. Nothing else.

Access is checked at the handshake and again whenever it may have changed: at once when the user's
membership, account or session changes (an access.changed message to the user's group, see
webapp/jobs/signals.py), before forwarding an event when the last check is a few seconds old, when the
session expires, and every SIGHTLINE_SOCKET_RECHECK_S (which also renews the group entries, so entries a
crashed process never removed expire after the layer's short group_expiry). A socket whose user may no
longer see the case is closed with 4404 and gets nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from webapp.audit import services as audit
from webapp.cases.permissions import live_access
from webapp.jobs.events import case_group, user_group

logger = logging.getLogger(__name__)

# Close codes the page understands: stop reconnecting (not found / not allowed look the same on purpose).
CLOSE_NOT_FOUND = 4404
# An event is forwarded only if access was confirmed this recently (else it is checked first).
EVENT_CHECK_MAX_AGE_S = 5.0


class CaseEventsConsumer(AsyncJsonWebsocketConsumer):
    case_id = 0
    session_key: str | None = None
    groups_joined: tuple[str, ...] = ()
    expires_at: Any = None
    checked_at = 0.0
    ended = False
    watcher: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.case_id = int(self.scope["url_route"]["kwargs"]["case_id"])
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        allowed = await self._check()
        await self.accept()
        if not allowed:
            client = self.scope.get("client") or [None]
            await database_sync_to_async(audit.record_refusal)(
                user=self.scope.get("user"), case_id=self.case_id, address=client[0], path=self.scope["path"]
            )
            await self._end()
            return
        user = self.scope["user"]  # live_access() found a signed-in user behind the session
        self.groups_joined = (case_group(self.case_id), user_group(int(getattr(user, "pk", 0))))
        await self._join()
        self.watcher = asyncio.create_task(self._watch())
        await self.send_json({"type": "hello", "case": self.case_id})

    async def disconnect(self, code: int) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The page sends nothing that matters; state is reloaded over HTTP."""

    async def job_event(self, message: dict[str, Any]) -> None:
        if self.ended:
            return
        if time.monotonic() - self.checked_at > EVENT_CHECK_MAX_AGE_S or self.expires_at <= timezone.now():
            try:
                allowed = await self._check()
            except Exception:  # the database is away: drop the event; the page reloads state later
                logger.warning("access check failed; event not forwarded", exc_info=True)
                return
            if not allowed:
                await self._end()
                return
        await self.send_json({"type": "job", **message["event"]})

    async def access_changed(self, message: dict[str, Any]) -> None:
        if self.ended or message.get("case") not in (None, self.case_id):
            return
        session = message.get("session")
        if session is not None and session != self.session_key:
            return
        if session is not None or not await self._check():
            await self._end()

    # --- internals -------------------------------------------------------------------------------------

    async def _check(self) -> bool:
        self.expires_at = await database_sync_to_async(live_access)(self.session_key, self.case_id)
        self.checked_at = time.monotonic()
        return self.expires_at is not None

    async def _join(self) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _end(self) -> None:
        self.ended = True
        await self.close(code=CLOSE_NOT_FOUND)

    async def _watch(self) -> None:
        """Close the socket when its session expires; check access and renew group entries meanwhile."""
        every = float(settings.SIGHTLINE_SOCKET_RECHECK_S)
        while not self.ended:
            left = (self.expires_at - timezone.now()).total_seconds()
            await asyncio.sleep(max(0.0, min(every, left)))
            try:
                if not await self._check():
                    await self._end()
                    return
                await self._join()
            except Exception:
                logger.warning("periodic access check failed; trying again later", exc_info=True)
                await asyncio.sleep(1.0)
