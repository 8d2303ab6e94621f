"""A tiny asyncio AMI reader for the rig's own checks and tests.

Not the gateway's AMI client (gateway.ami): no reconnects, no keepalive, no performance
work. It logs in, records every event, sends actions and collects their responses
(including list responses that end with an `...Complete` event).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools


class AmiProbeError(RuntimeError):
    pass


class AmiProbe:
    def __init__(self, host: str, port: int, username: str, secret: str):
        self.host, self.port, self.username, self.secret = host, port, username, secret
        self.events: list[dict[str, str]] = []
        self.banner = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future, list]] = {}
        self._changed: asyncio.Event | None = None

    async def __aenter__(self) -> "AmiProbe":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self, timeout: float = 5.0) -> None:
        self._changed = asyncio.Event()
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout)
        self.banner = (await asyncio.wait_for(self._reader.readline(), timeout)).decode().strip()
        self._task = asyncio.ensure_future(self._read())
        reply = await self.action("Login", timeout=timeout, Username=self.username, Secret=self.secret)
        if reply[0].get("Response") != "Success":
            raise AmiProbeError(f"AMI login failed: {reply[0].get('Message')}")

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(b"Action: Logoff\r\n\r\n")
                self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._writer = None

    async def _read(self) -> None:
        assert self._reader is not None
        frame: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if not line:
                err = AmiProbeError("AMI connection closed")
                for fut, _ in self._pending.values():
                    if not fut.done():
                        fut.set_exception(err)
                return
            line = line.decode(errors="replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                frame[key.strip()] = value.strip()
                continue
            if frame:
                self._frame(frame)
            frame = {}

    def _frame(self, frame: dict[str, str]) -> None:
        aid = frame.get("ActionID")
        pending = self._pending.get(aid) if aid else None
        if pending is not None:
            fut, frames = pending
            frames.append(frame)
            is_list = frames[0].get("EventList") == "start" or "will follow" in frames[0].get("Message", "")
            if (len(frames) == 1 and not is_list) or frame.get("EventList") == "Complete" \
                    or (len(frames) > 1 and frame.get("Event", "").endswith("Complete")):
                self._pending.pop(aid, None)
                if not fut.done():
                    fut.set_result(frames)
            return
        if "Event" in frame:
            self.events.append(frame)
            assert self._changed is not None
            self._changed.set()
            self._changed = asyncio.Event()

    async def action(self, name: str, timeout: float = 10.0, **fields) -> list[dict[str, str]]:
        """Send an action; returns its response frame followed by any list events."""
        assert self._writer is not None
        aid = f"probe-{next(self._ids)}"
        fut = asyncio.get_running_loop().create_future()
        self._pending[aid] = (fut, [])
        lines = [f"Action: {name}", f"ActionID: {aid}"] + [f"{k}: {v}" for k, v in fields.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(aid, None)

    async def wait_event(self, name: str, timeout: float = 10.0, start: int = 0, **match) -> dict[str, str]:
        """The first event named `name` (from index `start` of self.events) whose headers
        include `match` (values compared as strings)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = start
        while True:
            while index < len(self.events):
                ev = self.events[index]
                index += 1
                if ev.get("Event") == name and all(ev.get(k) == str(v) for k, v in match.items()):
                    return ev
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AmiProbeError(f"no {name} event matching {match} within {timeout}s "
                                    f"(saw {len(self.events)} events)")
            assert self._changed is not None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
