"""ASGI middleware every response goes through: security headers, a bounded request body,
and paths read from the raw request line (an escaped '/' stays inside its segment)."""
from __future__ import annotations

import json
import logging
from urllib.parse import unquote

log = logging.getLogger("gateway.web.access")

CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


async def _send_json(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """CSP without inline script, nosniff, referrer and framing rules on every response; and
    `no-store` on everything but the static files. Logs one access line (never headers)."""

    def __init__(self, app, static_prefix: str = "/static/"):
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if b"cache-control" not in names and not path.startswith(self.static_prefix):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
                log.debug("%s %s -> %s", scope["method"], path, message["status"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BoundedBody:
    """Reads at most `max_body` bytes of a request body before the app sees it; a longer
    body (by Content-Length or as it arrives chunked) is read to its end, dropped and
    answered 400."""

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size <= self.max_body:
                chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if size > self.max_body:
            return await _send_json(send, 400, f"request body over {self.max_body} bytes")
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RawPath:
    """Routes on the request line as sent: each segment is unescaped on its own, so
    `/agents/1001%2Flogin` names agent "1001%2Flogin" and never the login route; a path that is
    not UTF-8 once unescaped is 404."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        raw = scope.get("raw_path")
        if scope["type"] in ("http", "websocket") and raw:
            try:
                raw = raw.partition(b"?")[0]  # some clients leave the query on it
                segments = [unquote(s, errors="strict") for s in raw.decode("ascii").split("/")]
            except UnicodeError:
                if scope["type"] == "http":
                    return await _send_json(send, 404, "no such route")
                return
            path = "/".join(s.replace("/", "%2F") for s in segments)
            if path != scope["path"]:
                scope = {**scope, "path": path}
        await self.app(scope, receive, send)
