"""FastAPI dependencies shared by every feature's routes: the services, the caller's address,
the page session and its role, the WebSocket session, the CSRF check and the audit trail."""
from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket, WebSocketException, status
from starlette.requests import HTTPConnection

from gateway.web.errors import SignInRequired
from gateway.web.services import WebServices
from gateway.web.sessions import WebSession

SESSION_COOKIE = "ctigw_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Signing in makes a session rather than using one: it has a CSRF check of its own (pages.py).
CSRF_EXEMPT = frozenset({"/login"})


def services(request: HTTPConnection) -> WebServices:
    return request.app.state.services


def client_address(request: HTTPConnection) -> str | None:
    return request.client.host if request.client else None


async def live_session(request: Request) -> WebSession | None:
    """The request's live session, or None (no cookie, forged, expired or signed out)."""
    if not hasattr(request.state, "web_session"):
        session_id = request.cookies.get(SESSION_COOKIE)
        request.state.web_session = await services(request).sessions.get(session_id) if session_id else None
    return request.state.web_session


async def page_session(request: Request) -> WebSession:
    session = await live_session(request)
    if session is None:
        raise SignInRequired()
    return session


def require_role(*roles: str):
    """A dependency: the page session, if its role is one of `roles` (else 403)."""
    async def dependency(request: Request) -> WebSession:
        session = await page_session(request)
        if session.role not in roles:
            raise HTTPException(403, "not allowed for your role")
        return session
    return dependency


async def socket_session(websocket: WebSocket) -> WebSession | None:
    """The live session behind a WebSocket handshake, if the handshake comes from a page of
    this site (its Origin is this host): a cookie alone would let any site's page connect."""
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host")
    if not origin or not host or urlsplit(origin).netloc != host:
        return None
    session_id = websocket.cookies.get(SESSION_COOKIE)
    return await services(websocket).sessions.get(session_id) if session_id else None


def require_socket_role(*roles: str):
    """A WebSocket dependency: the session, if its role is one of `roles`; else the handshake
    is refused (HTTP 403; policy violation)."""
    async def dependency(websocket: WebSocket) -> WebSession:
        session = await socket_session(websocket)
        if session is None or session.role not in roles:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="sign in first")
        return session
    return dependency


async def csrf_guard(request: HTTPConnection) -> None:
    """Every state-changing request made with a live session carries that session's CSRF
    token: the X-CSRF-Token header (fetch) or the csrf_token form field (forms). (WebSockets
    are guarded by their Origin instead: socket_session.)"""
    if not isinstance(request, Request) or request.method not in UNSAFE_METHODS \
            or request.url.path in CSRF_EXEMPT:
        return
    session = await live_session(request)
    if session is None:
        return  # nothing to forge: routes that need a session refuse on their own
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise HTTPException(403, "missing or wrong CSRF token")


async def audit(request: Request, *, actor: str, role: str | None, action: str, target: str | None,
                outcome: str) -> None:
    await services(request).audit.record(actor=actor, role=role, action=action, target=target,
                                         address=client_address(request), outcome=outcome)
