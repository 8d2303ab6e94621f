"""The FastAGI server: admission (allow-list, session cap), the route table, and the life of
each session's handler.

Handlers are plain `async def handler(session)` coroutines, run as asyncio tasks on the
one loop. Whatever happens in a handler, its session ends: the connection is closed in a
`finally`, and `on_session_end(session, reason)` is told why (completed, hangup, timeout,
error, cancelled).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Awaitable, Callable, Iterable

from twisted.internet.protocol import Protocol, ServerFactory

from gateway.agi.access import AllowList, Peer
from gateway.agi.environment import AgiEnvironment, AgiRequest
from gateway.agi.errors import AgiHangup, AgiTimeout
from gateway.agi.protocol import FastAgiProtocol
from gateway.agi.session import AgiSession
from gateway.loop import finish_tasks, stop_listening

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]
SessionEndHook = Callable[[AgiSession, str], object]

# How long a refused connection stays open for Asterisk to read the FAILURE notice.
REFUSAL_LINGER = 2.0


class FastAgiServer(ServerFactory):
    noisy = False  # no "Starting factory" lines

    def __init__(self, routes: dict[str, Handler] | None = None, *,
                 allowed_hosts: Iterable[str] = ("127.0.0.1",), max_sessions: int = 2000,
                 env_timeout: float = 5.0, command_timeout: float = 30.0, clock=None,
                 on_session_end: SessionEndHook | None = None):
        self._routes: dict[str, Handler] = {}
        for path, handler in (routes or {}).items():
            self.route(path, handler)
        self._allow = AllowList(allowed_hosts)
        self.max_sessions = max_sessions
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.on_session_end = on_session_end
        self._clock = clock
        self._port = None
        self._live: set[FastAgiProtocol] = set()     # admitted, not yet fully ended
        self._running: set[FastAgiProtocol] = set()  # a handler is still running
        self._tasks: set[asyncio.Task] = set()

    # -- configuration -----------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> Handler:
        """Serve `agi://host/<path>` with `handler` (leading/trailing slashes ignored)."""
        if not callable(handler):
            raise TypeError("a route's handler must be callable")
        self._routes[path.strip("/")] = handler
        return handler

    @property
    def clock(self):
        if self._clock is None:
            from twisted.internet import reactor  # late: the asyncio reactor is installed first
            self._clock = reactor
        return self._clock

    @property
    def active_sessions(self) -> int:
        """Connections admitted and not yet over (connection closed and handler finished)."""
        return len(self._live)

    # -- listening ---------------------------------------------------------------------

    def listen(self, port: int, interface: str = "127.0.0.1", backlog: int = 4096):
        """Start accepting; returns the IListeningPort (port 0 picks a free port).
        The backlog is explicit: the framework default (50) overflows under a burst of
        calls, and a second lost SYN passes Asterisk's 2 s AGI connect limit."""
        from twisted.internet import reactor

        self._port = reactor.listenTCP(port, self, backlog=backlog, interface=interface)
        address = self._port.getHost()
        log.info("FastAGI listening on %s:%d (backlog %d)", address.host, address.port, backlog)
        return self._port

    @property
    def port(self) -> int | None:
        return self._port.getHost().port if self._port is not None else None

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, end every session (Asterisk is told FAILURE, so the dialplan's
        fallback takes live calls), wait up to `grace` seconds for handlers, cancel the rest."""
        if self._port is not None:
            port, self._port = self._port, None
            await stop_listening(port)
        for protocol in list(self._live):
            protocol.finish(failure_notice=not protocol.hung_up)
        await finish_tasks(self._tasks, grace)

    # -- admission ---------------------------------------------------------------------

    def buildProtocol(self, addr):
        peer = Peer.of(addr)
        if not self._allow.allows(peer.host):
            log.warning("FastAGI: refused %s: not in allowed_hosts", peer)
            return None
        if len(self._live) >= self.max_sessions:
            log.warning("FastAGI: refused %s: already %d sessions (max_sessions)", peer, len(self._live))
            return RefusedConnection(self.clock)
        protocol = FastAgiProtocol(clock=self.clock, env_timeout=self.env_timeout,
                                   command_timeout=self.command_timeout,
                                   on_environment=self._start_session, on_disconnect=self._disconnected)
        protocol.factory = self
        self._live.add(protocol)
        return protocol

    # -- sessions ----------------------------------------------------------------------

    def _start_session(self, protocol: FastAgiProtocol, env: AgiEnvironment) -> None:
        request = AgiRequest.from_environment(env)
        handler = self._routes.get(request.path)
        if handler is None:
            log.warning("FastAGI %s: no route for %r (agi_network_script %r); closing",
                        protocol.label, request.path, env.network_script)
            protocol.finish(failure_notice=True)
            return
        session = AgiSession(protocol, env, request, protocol.peer)
        self._running.add(protocol)
        task = asyncio.ensure_future(self._run(protocol, session, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, protocol: FastAgiProtocol, session: AgiSession, handler: Handler) -> None:
        reason = "completed"
        try:
            result = handler(session)
            if inspect.isawaitable(result):
                await result
            if protocol.hung_up:
                reason = "hangup"
        except AgiHangup as exc:
            reason = "hangup"
            log.debug("FastAGI %s: %s", protocol.label, exc)
        except AgiTimeout as exc:
            reason = "timeout"
            log.warning("FastAGI %s: handler for %r: %s", protocol.label, session.request.path, exc)
        except asyncio.CancelledError:
            reason = "cancelled"
        except Exception:
            reason = "error"
            log.exception("FastAGI %s: handler for %r failed", protocol.label, session.request.path)
        finally:
            # A failed handler tells Asterisk so (AGISTATUS=FAILURE): the dialplan's fallback
            # then takes the caller instead of carrying on with no verdict.
            protocol.finish(failure_notice=reason in ("error", "cancelled") and not protocol.hung_up)
            self._running.discard(protocol)
            self._release_if_over(protocol)
        await self._notify_end(session, reason)

    async def _notify_end(self, session: AgiSession, reason: str) -> None:
        if self.on_session_end is None:
            return
        try:
            result = self.on_session_end(session, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("FastAGI %s: on_session_end hook failed", session.env.channel or session.peer)

    def _disconnected(self, protocol: FastAgiProtocol) -> None:
        self._release_if_over(protocol)

    def _release_if_over(self, protocol: FastAgiProtocol) -> None:
        if protocol.disconnected and protocol not in self._running:
            self._live.discard(protocol)


class RefusedConnection(Protocol):
    """A connection over the session cap: Asterisk reads a `FAILURE` line as
    AGISTATUS=FAILURE, so the dialplan's fallback takes the call.

    Only the sending side is closed at once: closing a socket with unread input (the
    environment Asterisk has already sent) resets it, and a reset may overtake the notice.
    """

    def __init__(self, clock, linger: float = REFUSAL_LINGER):
        self.clock = clock
        self.linger = linger
        self._timer = None

    def connectionMade(self) -> None:
        self.transport.write(b"FAILURE\n")
        lose_write = getattr(self.transport, "loseWriteConnection", None)
        if lose_write is None:
            self.transport.loseConnection()
            return
        lose_write()
        self._timer = self.clock.callLater(self.linger, self.transport.loseConnection)

    def dataReceived(self, data: bytes) -> None:
        pass  # the environment of a refused call is not needed

    def connectionLost(self, reason=None) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
