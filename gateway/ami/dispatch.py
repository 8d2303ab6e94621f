"""Event subscribers: by event name or "*" for all; sync or async; never able to hurt the link.

A plain function is called inline (the cheap path). An async function gets its own ordered
queue: its events are awaited one at a time in arrival order (a call's Hangup is never handled
before its DialBegin), while other subscribers and the socket carry on. Those queues are
bounded: when one reaches `max_backlog`, reading from Asterisk pauses (TCP backpressure) until
it has drained to half, so a stuck subscriber costs bounded memory, never silent loss. While
paused no answers arrive either: a subscriber awaiting an action then waits for its timeout, and
if the pause outlasts manager.conf's `writetimeout` Asterisk drops the session; the client
reconnects and its on_connected hooks resync. Exceptions from subscribers are logged and
swallowed.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections import deque
from collections.abc import Callable

from gateway.ami.message import AmiMessage

log = logging.getLogger(__name__)

ALL_EVENTS = "*"


def _is_async(callback) -> bool:
    while isinstance(callback, functools.partial):
        callback = callback.func
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None))


class _OrderedRunner:
    """Feeds one async subscriber its events one at a time, in arrival order."""

    def __init__(self, callback, dispatcher: "EventDispatcher"):
        self.callback = callback
        self._dispatcher = dispatcher
        self._queue: deque = deque()
        self._task: asyncio.Future | None = None
        self.congested = False

    def __len__(self) -> int:
        return len(self._queue)

    def deliver(self, message: AmiMessage) -> None:
        self._enqueue((message, None))

    def deliver_started(self, message: AmiMessage, awaitable) -> None:
        self._enqueue((message, awaitable))

    def _enqueue(self, item) -> None:
        self._queue.append(item)
        if not self.congested and len(self._queue) >= self._dispatcher.max_backlog:
            self.congested = True
            self._dispatcher._congestion_changed(self)
        if self._task is None:
            self._task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                message, awaitable = self._queue.popleft()
                if self.congested and len(self._queue) <= self._dispatcher.max_backlog // 2:
                    self.congested = False
                    self._dispatcher._congestion_changed(self)
                try:
                    await (self.callback(message) if awaitable is None else awaitable)
                except Exception:
                    log.exception("AMI subscriber %r failed on %s event", self.callback, message.event)
        finally:
            self._task = None

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._queue.clear()
        if self.congested:
            self.congested = False
            self._dispatcher._congestion_changed(self)


class EventDispatcher:
    """Routes each event to the subscribers of its name, then to the "*" subscribers."""

    def __init__(self, *, max_backlog: int = 10_000):
        if max_backlog < 2:
            raise ValueError("max_backlog must be at least 2")
        self.max_backlog = max_backlog
        self._by_name: dict[str, list[Callable]] = {}
        self._all: list[Callable] = []
        self._runners: dict[Callable, _OrderedRunner] = {}
        self._congested: set[_OrderedRunner] = set()
        self._pause: Callable[[], None] | None = None
        self._resume: Callable[[], None] | None = None

    def subscribe(self, event_name: str, callback: Callable) -> None:
        deliver = self._runner(callback).deliver if _is_async(callback) else callback
        targets = self._all if event_name == ALL_EVENTS else self._by_name.setdefault(event_name, [])
        targets.append(deliver)

    def dispatch(self, message: AmiMessage) -> None:
        """Never raises. Per event on the hot path: one dict lookup, then the calls."""
        named = self._by_name.get(message.event)
        for subscribers in (named, self._all) if named else (self._all,):
            for deliver in subscribers:
                try:
                    result = deliver(message)
                except Exception:
                    log.exception("AMI subscriber %r failed on %s event", deliver, message.event)
                    continue
                if result is not None and inspect.isawaitable(result):
                    self._adopt(deliver, message, result)

    def _adopt(self, callback, message: AmiMessage, awaitable) -> None:
        # A plain callable that returned an awaitable (a lambda around a coroutine function,
        # say): await it in order from now on, like a declared async subscriber.
        runner = self._runner(callback)
        for targets in (self._all, *self._by_name.values()):
            targets[:] = [runner.deliver if t is callback else t for t in targets]
        runner.deliver_started(message, awaitable)

    def _runner(self, callback) -> _OrderedRunner:
        runner = self._runners.get(callback)
        if runner is None:
            runner = self._runners[callback] = _OrderedRunner(callback, self)
        return runner

    # -- flow control: the current connection's pause/resume ----------------------------------

    @property
    def backlog(self) -> int:
        """Events queued for async subscribers, not yet handled."""
        return sum(len(r) for r in self._runners.values())

    @property
    def congested(self) -> bool:
        return bool(self._congested)

    def attach_flow_control(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._pause, self._resume = pause, resume
        if self._congested:
            pause()

    def detach_flow_control(self) -> None:
        self._pause = self._resume = None

    def _congestion_changed(self, runner: _OrderedRunner) -> None:
        was_congested = bool(self._congested)
        if runner.congested:
            self._congested.add(runner)
        else:
            self._congested.discard(runner)
        if self._congested and not was_congested:
            log.warning("AMI subscriber %r is %d events behind; pausing reads from Asterisk",
                        runner.callback, len(runner))
            if self._pause is not None:
                self._pause()
        elif was_congested and not self._congested:
            log.info("AMI subscribers caught up; resuming reads from Asterisk")
            if self._resume is not None:
                self._resume()

    def cancel_pending(self) -> None:
        """Drop queued events and cancel running async deliveries (shutdown)."""
        for runner in self._runners.values():
            runner.cancel()
