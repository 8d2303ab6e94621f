"""Serves the web application with uvicorn on the gateway's own running loop.

The gateway owns the process's signals, so uvicorn installs none; the listening socket is
bound here (a busy port raises OSError instead of uvicorn's sys.exit) and handed over.

    server = WebServer(create_app(services))
    await server.start(8088, "127.0.0.1", backlog=128)
    ...
    await server.stop()
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # SIGINT/SIGTERM are the gateway's
        yield


class WebServer:
    def __init__(self, app, *, grace: float = 5.0):
        self.app = app
        self.grace = grace
        self._server: _QuietServer | None = None
        self._task: asyncio.Task | None = None
        self._socket: socket.socket | None = None
        self._on_stop = []

    def on_stop(self, callback) -> None:
        """Call `callback()` once the server has stopped (e.g. to release a database)."""
        self._on_stop.append(callback)

    def __repr__(self) -> str:
        return f"<WebServer port={self.port}>"

    @property
    def port(self) -> int | None:
        return self._socket.getsockname()[1] if self._socket is not None else None

    async def start(self, port: int, bind: str = "127.0.0.1", backlog: int = 128) -> int:
        """Listen on bind:port (0: a free port) and serve; returns the port."""
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose socket
        # says TCP, and accepted sockets inherit it. With Nagle on, a desk message sent right after
        # another (the agent's state, then the pop) waited ~40 ms for the browser's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        quiet = logging.getLogger("uvicorn.error")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)  # "Started server process": the gateway logs its own start
        config = uvicorn.Config(self.app, lifespan="off", log_config=None, access_log=False, server_header=False,
                                proxy_headers=False, http="h11", ws="wsproto", backlog=backlog,
                                timeout_graceful_shutdown=self.grace)
        self._server, self._socket = _QuietServer(config), sock
        self._task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the web server stopped while starting")
            await asyncio.sleep(0.01)
        log.debug("web server listening on %s:%d", bind, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop accepting, let requests in progress finish for up to `grace` seconds, close."""
        if self._server is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._socket.close()
            self._server = self._task = None
            self._socket = None
            for callback in self._on_stop:
                callback()


async def start_gateway_web(settings, redis, acd, **desk) -> WebServer:
    """The gateway's web application ([http] bind/port/backlog), on the CRM database's
    accounts and audit log and the gateway's Redis, with the agent desk's services (`desk`:
    desk, wrapups, directory, agent_calls); stopping it releases the database."""
    from gateway.crm.migrate import sync_engine
    from gateway.web.app import create_app
    from gateway.web.services import web_services

    engine = sync_engine(settings.crm_url)
    server = WebServer(create_app(web_services(settings, redis, acd, engine, **desk)))
    server.on_stop(engine.dispose)
    try:
        await server.start(settings.http.port, settings.http.bind, settings.http.backlog)
    except BaseException:
        engine.dispose()
        raise
    return server
