"""The HTTP API for agent controls: twisted.web on the gateway's one loop, JSON in and out.

    GET  /api/v1/agents/{id}              the agent's state
    POST /api/v1/agents/{id}/login        body optional {"ready": bool}
    POST /api/v1/agents/{id}/logout
    POST /api/v1/agents/{id}/ready
    POST /api/v1/agents/{id}/not-ready    body {"reason": "break"}
    POST /api/v1/agents/{id}/end-wrapup
    GET  /api/v1/queues/{name}            queue snapshot (supervisors of the queue's team)
    GET  /api/v1/openapi.json             this API, described (no token needed)

Every request but openapi.json carries `Authorization: Bearer <token>` (gateway.api.auth).
Routing, authentication, authorization and body checks are done synchronously in render;
the ACD call then runs as an asyncio task and finishes the response (NOT_DONE_YET).
Errors are `{"error": "..."}` with 400/401/403/404/405/409 (500 for a bug, logged).
"""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
from io import BytesIO
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

from twisted.web import resource, server

from gateway.acd.errors import AgentStateError, UnknownAgent, UnknownQueue
from gateway.api.auth import SUPERVISOR, TokenError, may_access_agent, may_read_queue, verify_token
from gateway.api.openapi import openapi_document
from gateway.loop import finish_tasks, stop_listening

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_BODY_BYTES = 8 * 1024
MAX_REASON_LENGTH = 32
AGENT_ACTIONS = ("login", "logout", "ready", "not-ready", "end-wrapup")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, {"WWW-Authenticate": 'Bearer realm="ctigw"'})


class BoundedRequest(server.Request):
    """Keeps at most MAX_BODY_BYTES of a request body in memory; the rest is read and dropped,
    and the request is marked `body_too_large` (render answers 400)."""

    max_body = MAX_BODY_BYTES

    def gotLength(self, length):
        self.content = BytesIO()
        self.body_received = 0
        self.body_too_large = length is not None and length > self.max_body

    def handleContentChunk(self, data):
        self.body_received += len(data)
        if self.body_received > self.max_body:
            self.body_too_large = True
        elif not self.body_too_large:
            self.content.write(data)


class _Site(server.Site):
    noisy = False  # no "Starting factory" lines

    def __init__(self, root, max_body: int, **kwargs):
        factory = type("BoundedRequest", (BoundedRequest,), {"max_body": max_body})
        super().__init__(root, requestFactory=factory, parsePOSTFormSubmission=False, **kwargs)
        self.channels = weakref.WeakSet()

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)
        if channel is not None:
            self.channels.add(channel)
        return channel

    def log(self, request):  # the access log goes through `log` below, never with headers
        log.debug("%s %s -> %s", _text(request.method), _text(request.path), request.code)


def _text(value: bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class ApiServer(resource.Resource):
    """Serve the agent-control API for `acd`, authenticating with `token_secret`."""

    isLeaf = True

    def __init__(self, acd, token_secret: str | bytes, *, max_body: int = MAX_BODY_BYTES, timeout: float = 60):
        super().__init__()
        if not token_secret:
            raise ValueError("the HTTP API needs a token secret ([http] token_secret)")
        self.acd = acd
        self._secret = token_secret
        self.max_body = max_body
        self.site = _Site(self, max_body, timeout=timeout)
        self._port = None
        self._tasks: set[asyncio.Task] = set()

    def __repr__(self) -> str:  # never show the secret
        return f"<ApiServer port={self.port}>"

    # -- listening ---------------------------------------------------------------------

    def listen(self, port: int, interface: str = "127.0.0.1", backlog: int = 128):
        """Start accepting; returns the IListeningPort (port 0 picks a free port)."""
        from twisted.internet import reactor

        self._port = reactor.listenTCP(port, self.site, backlog=backlog, interface=interface)
        address = self._port.getHost()
        log.info("HTTP API listening on %s:%d", address.host, address.port)
        return self._port

    @property
    def port(self) -> int | None:
        return self._port.getHost().port if self._port is not None else None

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let requests in progress finish for up to `grace` seconds (cancel
        the rest), and close every connection."""
        if self._port is not None:
            port, self._port = self._port, None
            await stop_listening(port)
        await finish_tasks(self._tasks, grace)
        for channel in list(self.site.channels):
            transport = getattr(channel, "transport", None)
            if transport is not None:
                transport.loseConnection()

    # -- requests ----------------------------------------------------------------------

    def render(self, request):
        request.setHeader(b"server", b"ctigw")
        try:
            work = self._prepare(request)
        except ApiError as exc:
            return self._error(request, exc)
        if not callable(work):
            return _json(request, 200, work)
        task = asyncio.ensure_future(self._complete(request, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return server.NOT_DONE_YET

    def _prepare(self, request) -> Any:
        """Route, authenticate, authorize and check the body. Returns the response body, or
        a coroutine function whose result is the body."""
        try:
            path = request.path.decode("ascii")
        except UnicodeDecodeError:
            raise ApiError(404, "no such route") from None
        if not path.startswith(PREFIX + "/"):
            raise ApiError(404, "no such route")
        try:  # split first: an escaped "/" in an id must not change the route
            parts = [unquote(p, errors="strict") for p in path[len(PREFIX) + 1:].split("/")]
        except UnicodeDecodeError:
            raise ApiError(404, "no such route") from None
        method = _text(request.method)

        if parts == ["openapi.json"]:
            _allow(method, "GET")
            return openapi_document()
        if len(parts) == 2 and parts[0] == "agents" and parts[1]:
            _allow(method, "GET")
            agent_id = parts[1]
            self._agent_access(request, agent_id)
            return lambda: self._agent_state(agent_id)
        if len(parts) == 3 and parts[0] == "agents" and parts[1] and parts[2] in AGENT_ACTIONS:
            _allow(method, "POST")
            agent_id, action = parts[1], parts[2]
            self._agent_access(request, agent_id)
            body = self._body(request)
            return self._action(agent_id, action, body)
        if len(parts) == 2 and parts[0] == "queues" and parts[1]:
            _allow(method, "GET")
            queue = parts[1]
            principal = self._principal(request)
            if principal.role == SUPERVISOR and self.acd.queues.policy(queue) is None:
                raise ApiError(404, f"unknown queue {queue!r}")
            if not may_read_queue(principal, queue, self.acd.queues):
                raise ApiError(403, "not allowed to read this queue")
            return lambda: self._queue_snapshot(queue)
        raise ApiError(404, "no such route")

    def _principal(self, request):
        header = request.getHeader(b"authorization")
        if not header:
            raise _unauthorized("missing bearer token")
        scheme, _, token = _text(header).strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing bearer token")
        try:
            return verify_token(self._secret, token.strip())
        except TokenError:
            raise _unauthorized("invalid token") from None

    def _agent_access(self, request, agent_id: str) -> None:
        principal = self._principal(request)
        if not may_access_agent(principal, agent_id, self.acd.roster):
            raise ApiError(403, "not allowed for this agent")
        if self.acd.roster.agent(agent_id) is None:
            raise ApiError(404, f"unknown agent {agent_id!r}")

    def _body(self, request) -> dict:
        if getattr(request, "body_too_large", False):
            raise ApiError(400, f"request body over {self.max_body} bytes")
        raw = request.content.getvalue() if request.content is not None else b""
        if len(raw) > self.max_body:
            raise ApiError(400, f"request body over {self.max_body} bytes")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def _action(self, agent_id: str, action: str, body: dict) -> Callable[[], Awaitable[Any]]:
        acd = self.acd
        if action == "login":
            _only_keys(body, {"ready"})
            ready = body.get("ready", True)
            if not isinstance(ready, bool):
                raise ApiError(400, '"ready" must be true or false')
            call = lambda: acd.login(agent_id, ready=ready)  # noqa: E731
        elif action == "not-ready":
            _only_keys(body, {"reason"})
            reason = _reason(body.get("reason"))
            call = lambda: acd.not_ready(agent_id, reason)  # noqa: E731
        else:
            _only_keys(body, set())
            method = {"logout": acd.logout, "ready": acd.ready, "end-wrapup": acd.end_wrapup}[action]
            call = lambda: method(agent_id)  # noqa: E731

        async def run():
            return _status_dict(await call())
        return run

    async def _agent_state(self, agent_id: str) -> dict:
        return _status_dict(await self.acd.get_agent_state(agent_id))

    async def _queue_snapshot(self, queue: str) -> dict:
        return (await self.acd.queue_snapshot(queue)).to_dict()

    async def _complete(self, request, work) -> None:
        finished = []
        request.notifyFinish().addBoth(finished.append)  # the client may go away meanwhile
        try:
            body = await work()
            status = 200
        except AgentStateError as exc:
            status, body = 409, {"error": str(exc)}
        except (UnknownAgent, UnknownQueue) as exc:
            status, body = 404, {"error": str(exc)}
        except asyncio.CancelledError:
            status, body = 503, {"error": "the gateway is stopping"}
        except Exception:
            log.exception("HTTP API: %s %s failed", _text(request.method), _text(request.path))
            status, body = 500, {"error": "internal error"}
        if not finished:
            request.write(_json(request, status, body))
            request.finish()

    def _error(self, request, exc: ApiError) -> bytes:
        for name, value in exc.headers.items():
            request.setHeader(name, value)
        return _json(request, exc.status, {"error": exc.message})


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise ApiError(405, f"method {method} not allowed; use {allowed}", {"Allow": allowed})


def _only_keys(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unexpected field(s): " + ", ".join(repr(k)[:40] for k in unknown[:5]))


def _reason(value) -> str:
    if value is None:
        raise ApiError(400, '"reason" is required, e.g. {"reason": "break"}')
    if not isinstance(value, str):
        raise ApiError(400, '"reason" must be a string')
    value = value.strip()
    if not value or len(value) > MAX_REASON_LENGTH or not value.isprintable():
        raise ApiError(400, f'"reason" must be 1-{MAX_REASON_LENGTH} printable characters')
    return value


def _status_dict(status) -> dict:
    return {"agent_id": status.agent_id, "state": status.state.value, "since": status.since,
            "reason": status.reason, "call_id": status.call_id, "queue": status.queue,
            "calls_handled": status.calls_handled, "pending": status.pending,
            "wrapup_until": status.wrapup_until}


def _json(request, status: int, body: Any) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
