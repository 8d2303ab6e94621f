"""AmiClient: one logical, always-reconnecting AMI session for asyncio code.

It owns what outlives a TCP connection: the subscribers, the resync hooks, the reconnect
backoff. Each connection is a fresh AmiProtocol. While the link is down, actions fail at once
with AmiNotConnected (nothing is queued to be replayed later: a Redirect sent minutes late
would move the wrong call), and pending ones fail when it drops. After every successful login
the `on_connected` hooks run, so state can be resynced from Asterisk (events that happened
while we were away are gone for good).
"""
from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
import random as _random
from collections.abc import Awaitable, Callable

from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.protocol import ClientFactory
from twisted.python.failure import Failure

from gateway.ami.backoff import Backoff
from gateway.ami.dispatch import EventDispatcher
from gateway.ami.errors import AmiNotConnected, AmiTimeout
from gateway.ami.frames import DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE
from gateway.ami.message import AmiMessage
from gateway.ami.protocol import AmiCredentials, AmiProtocol
from gateway.loop import as_future

log = logging.getLogger(__name__)

EventCallback = Callable[[AmiMessage], None] | Callable[[AmiMessage], Awaitable[None]]
ConnectedHook = Callable[[], Awaitable[None]]

STOP_GRACE = 2.0  # seconds to wait for a polite close before aborting


class _Factory(ClientFactory):
    noisy = False

    def __init__(self, client: "AmiClient"):
        self.client = client

    def buildProtocol(self, addr):
        return self.client._new_protocol()

    def clientConnectionFailed(self, connector, reason: Failure) -> None:
        self.client._connect_failed(reason)


class AmiClient:
    def __init__(self, host: str, port: int, username: str, secret: str, *, auth: str = "md5",
                 clock: IReactorTime | None = None, keepalive_interval: float = 20.0,
                 action_timeout: float = 10.0, reconnect_initial: float = 0.5, reconnect_max: float = 30.0,
                 events: str = "on", reactor: IReactorTCP | None = None, connect_timeout: float | None = None,
                 max_line: int = DEFAULT_MAX_LINE, max_frame: int = DEFAULT_MAX_FRAME,
                 max_backlog: int = 10_000, random: Callable[[], float] = _random.random):
        self.host = host
        self.port = port
        self.credentials = AmiCredentials(username, secret, auth, events)
        self._reactor = reactor
        self._clock = clock
        self.keepalive_interval = keepalive_interval
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else action_timeout
        self._limits = {"max_line": max_line, "max_frame": max_frame}
        self._dispatcher = EventDispatcher(max_backlog=max_backlog)
        self._backoff = Backoff(reconnect_initial, reconnect_max, random=random)
        self._factory = _Factory(self)
        self._hooks: list[ConnectedHook] = []
        self._protocol: AmiProtocol | None = None
        self._connector = None
        self._retry_call = None
        self._hooks_task: asyncio.Future | None = None
        self._waiters: list[asyncio.Future] = []
        self._running = False
        ids = itertools.count(1)
        prefix = f"ctigw-{os.getpid():x}-{_random.getrandbits(24):06x}"
        self._next_action_id = lambda: f"{prefix}-{next(ids)}"

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("connecting" if self._running else "stopped")
        return f"<AmiClient {self.credentials.username}@{self.host}:{self.port} {state}>"

    # -- subscriptions -----------------------------------------------------------------------

    def on(self, event_name: str, callback: EventCallback) -> None:
        """Call `callback(msg)` for each event named `event_name` ("*": every event).

        Plain functions run inline; async ones are awaited in order, one event at a time.
        Exceptions are logged, never propagated.
        """
        self._dispatcher.subscribe(event_name, callback)

    def on_connected(self, hook: ConnectedHook) -> None:
        """Run `await hook()` after every successful login, first and later ones alike."""
        self._hooks.append(hook)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in right now."""
        return self._protocol is not None and self._protocol.ready

    def start(self) -> None:
        if self._running:
            return
        if self._reactor is None:
            from twisted.internet import reactor
            self._reactor = reactor
        if self._clock is None:
            self._clock = self._reactor
        self._running = True
        self._connect()

    async def stop(self) -> None:
        """Log off, close the connection and stop reconnecting. Pending actions fail."""
        self._running = False
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        self._retry_call = None
        self._cancel_hooks()
        self._release_waiters(AmiNotConnected("AMI client stopped"))
        protocol, self._protocol = self._protocol, None
        if protocol is not None and not protocol.closed:
            closed = asyncio.get_event_loop().create_future()
            protocol.when_lost().addCallback(lambda _: closed.done() or closed.set_result(None))
            protocol.disconnect()
            abort = self._clock.callLater(STOP_GRACE, self._abort_and_release, protocol, closed)
            await closed
            if abort.active():
                abort.cancel()
        elif self._connector is not None:
            try:
                self._connector.stopConnecting()
            except Exception:  # not connecting any more: nothing to stop
                pass
        self._connector = None

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once logged in; AmiTimeout after `timeout` seconds (on the client's clock)."""
        if self.connected:
            return
        if not self._running:
            raise AmiNotConnected("AMI client is not started")
        waiter = asyncio.get_event_loop().create_future()
        self._waiters.append(waiter)
        timer = None
        if timeout is not None:
            def expire():
                if not waiter.done():
                    waiter.set_exception(AmiTimeout(f"not connected to AMI at {self.host}:{self.port} "
                                                    f"within {timeout}s"))
            timer = self._clock.callLater(timeout, expire)
        try:
            await waiter
        finally:
            if timer is not None and timer.active():
                timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    # -- actions -----------------------------------------------------------------------------

    async def action(self, name: str, /, *, action_timeout: float | None = None, **fields) -> AmiMessage:
        """Send `name` with `fields`; return the response. A list value repeats its key
        (Variable=["A=1", "B=2"]); None values are left out.

        Raises AmiActionError (Response: Error), AmiTimeout, AmiNotConnected.
        """
        protocol = self._ready_protocol(name)
        return await as_future(protocol.send_action(name, fields, timeout=action_timeout))

    async def action_list(self, name: str, /, *, action_timeout: float | None = None,
                          **fields) -> tuple[AmiMessage, list[AmiMessage]]:
        """A list action: the response and its item events (the closing
        `EventList: Complete` event, e.g. CoreShowChannelsComplete, is not among them)."""
        protocol = self._ready_protocol(name)
        return await as_future(protocol.send_action(name, fields, timeout=action_timeout, collect=True))

    def _ready_protocol(self, name: str) -> AmiProtocol:
        protocol = self._protocol
        if protocol is None or not protocol.ready:
            raise AmiNotConnected(f"cannot send {name}: not connected to AMI at {self.host}:{self.port}")
        return protocol

    # -- connection management (called by the factory and the protocol) ---------------------

    def _connect(self) -> None:
        self._retry_call = None
        if self._running:
            self._connector = self._reactor.connectTCP(self.host, self.port, self._factory,
                                                       timeout=self.connect_timeout)

    def _new_protocol(self) -> AmiProtocol:
        protocol = AmiProtocol(self.credentials, self._dispatcher, clock=self._clock, listener=self,
                               action_timeout=self.action_timeout, keepalive_interval=self.keepalive_interval,
                               next_action_id=self._next_action_id, **self._limits)
        self._protocol = protocol
        return protocol

    def _connect_failed(self, reason: Failure) -> None:
        log.warning("cannot connect to AMI at %s:%d: %s", self.host, self.port, reason.getErrorMessage())
        self._schedule_retry()

    def ami_ready(self, protocol: AmiProtocol) -> None:
        if protocol is not self._protocol:
            return
        self._backoff.reset()
        self._release_waiters(None)
        if self._hooks:
            self._cancel_hooks()
            self._hooks_task = asyncio.ensure_future(self._run_hooks())

    def ami_login_failed(self, protocol: AmiProtocol, reason: str) -> None:
        log.error("AMI login to %s:%d as %r failed: %s", self.host, self.port, self.credentials.username, reason)

    def ami_lost(self, protocol: AmiProtocol, reason: Failure | None) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        self._cancel_hooks()
        if self._running:
            log.warning("AMI connection to %s:%d lost: %s", self.host, self.port,
                        reason.getErrorMessage() if reason is not None else "closed")
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if not self._running or (self._retry_call is not None and self._retry_call.active()):
            return
        delay = self._backoff.next_delay()
        log.info("reconnecting to AMI at %s:%d in %.2fs", self.host, self.port, delay)
        self._retry_call = self._clock.callLater(delay, self._connect)

    async def _run_hooks(self) -> None:
        for hook in list(self._hooks):
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("AMI on_connected hook %r failed", hook)

    def _cancel_hooks(self) -> None:
        if self._hooks_task is not None and not self._hooks_task.done():
            self._hooks_task.cancel()
        self._hooks_task = None

    def _release_waiters(self, error: Exception | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)

    def _abort_and_release(self, protocol: AmiProtocol, closed: asyncio.Future) -> None:
        log.warning("AMI connection did not close within %.1fs; aborting it", STOP_GRACE)
        protocol.transport.abortConnection()
        if not closed.done():
            closed.set_result(None)
