"""Screen pops and call events for agents' desktops, published on Redis.

The desktop service (WebSocket) subscribes to `<prefix>:desk:<agent_id>`: an agent's own
channel, so an agent sees only their own calls. Publishing never blocks the call path: a
Redis hiccup loses a pop (logged), never a call.
"""
from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)


def desk_channel(prefix: str, agent_id: str) -> str:
    return f"{prefix}:desk:{agent_id}"


class DeskPublisher:
    def __init__(self, redis, prefix: str):
        self.redis = redis
        self.prefix = prefix

    async def screen_pop(self, agent_id: str, payload: dict) -> None:
        await self.redis.publish(desk_channel(self.prefix, agent_id), json.dumps(payload, ensure_ascii=False, default=str))
