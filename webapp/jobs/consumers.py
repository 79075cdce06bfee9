"""The case websocket: join the case's group if allowed, forward job events. Nothing else."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.cases.permissions import Capability, can
from webapp.jobs.events import case_group

# Close codes the page understands: stop reconnecting (not found / not allowed look the same on purpose).
CLOSE_NOT_FOUND = 4404


class CaseEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        case_id = int(self.scope["url_route"]["kwargs"]["case_id"])
        user = self.scope.get("user")
        allowed = user is not None and await database_sync_to_async(can)(user, case_id, Capability.VIEW)
        await self.accept()
        if not allowed:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = case_group(case_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "hello", "case": case_id})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The page sends nothing that matters; state is reloaded over HTTP."""

    async def job_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "job", **message["event"]})
