"""The agents' live news for one process: one Redis pub/sub connection, shared by every open desk.

    async with feed.listen(agent_id) as listener:   # subscribed once this returns
        kind, body = await listener.get()   # ("desk", a DeskMessage) | ("agent", the agent's state), as JSON

The connection follows the ACD's events channel, and each agent's desk channel while anyone
listens for that agent; each message is parsed once and handed, as JSON text, to the listeners
of the agent it concerns. A connection per open desk would not do: every desk would take one connection
from the process's Redis pool (which is bounded: a few hundred agents exhaust it for the whole
gateway), and every ACD event would be read and parsed once per open desk.

A listener that falls `backlog` messages behind, or a lost Redis connection, ends the listeners
concerned (get() raises FeedEnded): their pages reconnect and start again from the current
state. The connection is closed when the last listener leaves.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import AsyncIterator, Callable

from gateway.acd.events import AGENT_STATE, parse_event

log = logging.getLogger(__name__)

BACKLOG = 1000  # messages a listener may fall behind before it is ended


class FeedEnded(Exception):
    """The listener will get nothing more: it fell behind, or the Redis connection was lost."""


class Listener:
    def __init__(self, agent_id: str, backlog: int):
        self.agent_id = agent_id
        self._queue: asyncio.Queue = asyncio.Queue()
        self._backlog = backlog
        self._ended: str | None = None

    async def get(self) -> tuple[str, str]:
        """The next ("desk", message) or ("agent", state) for this agent, the second as JSON
        text; FeedEnded when over."""
        item = await self._queue.get()
        if item is None:
            raise FeedEnded(self._ended)
        return item

    def _put(self, item: tuple[str, str]) -> None:
        if self._ended is not None:
            return
        if self._queue.qsize() >= self._backlog:
            self._end(f"more than {self._backlog} messages behind")
            return
        self._queue.put_nowait(item)

    def _end(self, why: str) -> None:
        if self._ended is None:
            self._ended = why
            self._queue.put_nowait(None)


class AgentFeed:
    def __init__(self, redis, desk_channel: Callable[[str], str], events_channel: str, *, backlog: int = BACKLOG):
        self.redis = redis
        self.desk_channel = desk_channel  # agent id -> that agent's desk channel (it checks the id)
        self.events_channel = events_channel
        self.backlog = backlog
        self._listeners: dict[str, set[Listener]] = {}  # agent id -> listeners
        self._agent_of: dict[str, str] = {}  # desk channel -> agent id
        self._pubsub = None
        self._reader: asyncio.Task | None = None
        self._subscribed: dict[str, list[asyncio.Future]] = {}  # channel -> waiting for Redis's confirmation
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def listen(self, agent_id: str) -> AsyncIterator[Listener]:
        """A listener for `agent_id`'s news; Redis has confirmed the subscription when this
        returns, so what is read from Redis afterwards is never older than what it delivers."""
        channel = self.desk_channel(agent_id)
        listener = Listener(agent_id, self.backlog)
        async with self._lock:
            if self._reader is not None and self._reader.done():  # the connection was lost
                await self._close()
            if self._pubsub is None:
                await self._open()
            listeners = self._listeners.setdefault(agent_id, set())
            listeners.add(listener)
            try:
                if len(listeners) == 1:
                    self._agent_of[channel] = agent_id
                    await self._subscribe(channel)
            except BaseException:
                await self._leave(listener, channel)
                raise
        try:
            yield listener
        finally:
            async with self._lock:
                await self._leave(listener, channel)

    @property
    def agents(self) -> int:
        """How many agents have listeners now."""
        return len(self._listeners)

    # -- the connection ----------------------------------------------------------------------
    async def _open(self) -> None:
        self._pubsub = self.redis.pubsub()
        try:
            await self._subscribe(self.events_channel)
        except BaseException:
            await self._close()
            raise

    async def _close(self) -> None:
        reader, pubsub = self._reader, self._pubsub
        self._reader = self._pubsub = None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        for waiting in self._subscribed.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(ConnectionError("the desk feed's Redis connection closed"))
        self._subscribed.clear()
        for listeners in self._listeners.values():  # (only after a lost connection)
            for listener in listeners:
                listener._end("the Redis connection was lost")
        self._listeners.clear()
        self._agent_of.clear()

    async def _subscribe(self, channel: str) -> None:
        confirmed = asyncio.get_running_loop().create_future()
        self._subscribed.setdefault(channel, []).append(confirmed)
        await self._pubsub.subscribe(channel)
        if self._reader is None:  # the first subscription made the connection the reader reads
            self._reader = asyncio.ensure_future(self._read(self._pubsub))
        reader = self._reader
        done, _ = await asyncio.wait({confirmed, reader}, return_when=asyncio.FIRST_COMPLETED)
        if confirmed not in done:
            raise ConnectionError("the desk feed's Redis connection was lost while subscribing")
        confirmed.result()

    async def _leave(self, listener: Listener, channel: str) -> None:
        listeners = self._listeners.get(listener.agent_id)
        if listeners is None or listener not in listeners:
            return
        listeners.discard(listener)
        if listeners:
            return
        del self._listeners[listener.agent_id]
        self._agent_of.pop(channel, None)
        if not self._listeners:
            await self._close()
        elif self._pubsub is not None and not self._reader.done():
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(channel)

    async def _read(self, pubsub) -> None:
        try:
            while True:
                # A bounded wait: a blocking read would time out on the client's socket_timeout.
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._dispatch(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("desk feed: Redis connection lost (%r); %d agents' desks reconnect", exc, self.agents)
            for listeners in list(self._listeners.values()):
                for listener in listeners:
                    listener._end("the Redis connection was lost")

    def _dispatch(self, message: dict) -> None:
        kind, channel = message.get("type"), _text(message.get("channel"))
        if kind == "subscribe":
            for future in self._subscribed.pop(channel, []):
                if not future.done():
                    future.set_result(None)
            return
        if kind != "message":
            return
        data = _text(message["data"])
        if channel == self.events_channel:
            event = parse_event(data)
            if event is None or event.type != AGENT_STATE:
                return
            agent = event.body.get("agent")
            agent_id = agent.get("agent_id") if isinstance(agent, dict) else None
            if agent_id not in self._listeners:
                return
            news = ("agent", json.dumps(agent, separators=(",", ":"), ensure_ascii=False))
        else:
            agent_id = self._agent_of.get(channel)
            try:
                body = json.loads(data)
            except ValueError:
                return
            if not isinstance(body, dict) or body.get("agent_id") != agent_id:
                return  # only ever the agent's own desk
            news = ("desk", data)
        for listener in list(self._listeners.get(agent_id, ())):
            listener._put(news)


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
