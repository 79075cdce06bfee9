"""The Redis channel layer with a bounded connection pool that waits instead of failing.

channels_redis gives each event loop a redis-py pool that raises "Too many connections" once its
connections are all in use. When many sockets closed at once (a proxy restart, a laptop going to sleep),
their group_discard calls failed, and the entries stayed in the case's group until group_expiry. A
BlockingConnectionPool holds the same bound and makes the extra calls wait for a free connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

logger = logging.getLogger(__name__)

DISCARD_TRIES = 4


class BoundedRedisChannelLayer(RedisChannelLayer):  # type: ignore[misc]  # channels_redis has no types
    def __init__(self, *args: Any, max_connections: int = 50, pool_timeout_s: float = 20, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout_s = pool_timeout_s

    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address", None)
        if address is None:
            raise ValueError("BoundedRedisChannelLayer takes Redis URLs as hosts.")
        return BlockingConnectionPool.from_url(
            address, max_connections=self.max_connections, timeout=self.pool_timeout_s, **host
        )

    async def group_discard(self, group: str, channel: str) -> None:
        """Leave a group, retrying briefly: a socket that closes during a Redis hiccup must not stay listed
        (its entry would otherwise wait for group_expiry)."""
        for attempt in range(DISCARD_TRIES):
            try:
                await super().group_discard(group, channel)
                return
            except Exception:
                if attempt == DISCARD_TRIES - 1:
                    logger.warning("could not remove %s from group %s", channel, group, exc_info=True)
                    return
                await asyncio.sleep(0.1 * 2**attempt)
