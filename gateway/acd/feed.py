"""Follows the `<prefix>:events` channel and hands each ACD event to a callback.

Pub/sub drops what is published while a subscriber is away, so after every (re)subscribe
`on_resync` runs: the owner reloads its picture from Redis. Subscribing before loading
means no change can fall between the two (versions make replays harmless).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from gateway.acd.background import BackgroundLoop
from gateway.acd.events import Event, parse_event

log = logging.getLogger(__name__)


class EventFeed(BackgroundLoop):
    task_name = "acd-event-feed"

    def __init__(self, redis, channel: str, on_event: Callable[[Event], Awaitable[None]],
                 on_resync: Callable[[], Awaitable[None]], *, retry_max: float = 10.0):
        self.redis = redis
        self.channel = channel
        self.on_event = on_event
        self.on_resync = on_resync
        self.retry_max = retry_max
        self.subscribed = asyncio.Event()

    async def _run(self) -> None:
        delay = 0.2
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                await self.on_resync()
                self.subscribed.set()
                delay = 0.2
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    event = parse_event(message["data"])
                    if event is None:
                        continue
                    try:
                        await self.on_event(event)
                    except Exception:
                        log.exception("ACD event %s failed", event.type)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: come back, resync, carry on
                self.subscribed.clear()
                log.warning("ACD event feed lost (%s); resubscribing in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.retry_max, delay * 2)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
