"""The REST API's routes (HTTP only): authenticate the bearer token, check who may act on
what, validate the body, call the ACD (the service), audit every change.

    GET  /api/v1/agents/{id}              the agent's state
    POST /api/v1/agents/{id}/login        body optional {"ready": bool}
    POST /api/v1/agents/{id}/logout
    POST /api/v1/agents/{id}/ready
    POST /api/v1/agents/{id}/not-ready    body {"reason": "break"}
    POST /api/v1/agents/{id}/end-wrapup
    GET  /api/v1/queues/{name}            queue snapshot (supervisors of the queue's team)
    GET  /api/v1/openapi.json             this API, described (FastAPI; no token needed)

Errors are `{"error": "..."}` with 400/401/403/404/405/409.
"""
from __future__ import annotations

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.acd.errors import AgentStateError, UnknownAgent, UnknownQueue
from gateway.api.auth import SUPERVISOR, Principal, TokenError, may_access_agent, may_read_queue, verify_token
from gateway.api.schemas import AgentStatus, EmptyBody, Error, LoginBody, NotReadyBody, QueueSnapshot
from gateway.web import deps

PREFIX = "/api/v1"
_ERRORS = {code: {"model": Error} for code in (400, 401, 403, 404, 405, 409)}

router = APIRouter(prefix=PREFIX, responses=_ERRORS)
_bearer = HTTPBearer(auto_error=False, description="a token from `ctigw api-token`")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="ctigw"'})


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """Who the bearer token names: signed, unexpired and not revoked; else 401."""
    if credentials is None or not credentials.credentials.strip():
        raise _unauthorized("missing bearer token")
    web = deps.services(request)
    if not web.token_secret:
        raise _unauthorized("invalid token")
    try:
        who = verify_token(web.token_secret, credentials.credentials.strip())
    except TokenError as exc:
        raise _unauthorized("token expired" if str(exc) == "token expired" else "invalid token") from None
    if await web.revocations.is_revoked(who.token_id):
        raise _unauthorized("token revoked")
    return who


async def agent_access(request: Request, agent_id: str, who: Principal = Depends(principal)) -> Principal:
    acd = deps.services(request).acd
    if not may_access_agent(who, agent_id, acd.roster):
        if request.method != "GET":
            await _audit(request, who, request.url.path.rsplit("/", 1)[-1], agent_id, "denied")
        raise HTTPException(403, "not allowed for this agent")
    if acd.roster.agent(agent_id) is None:
        raise HTTPException(404, f"unknown agent {agent_id!r}")
    return who


async def _audit(request: Request, who: Principal, action: str, target: str, outcome: str) -> None:
    await deps.audit(request, actor=f"{who} (token {who.token_id})", role=who.role, action=f"agent.{action}",
                     target=target, outcome=outcome)


async def _act(request: Request, who: Principal, action: str, agent_id: str, change) -> AgentStatus:
    try:
        status = await change()
    except AgentStateError as exc:
        await _audit(request, who, action, agent_id, f"refused: {exc}")
        raise HTTPException(409, str(exc)) from None
    except UnknownAgent as exc:
        raise HTTPException(404, str(exc)) from None
    await _audit(request, who, action, agent_id, "ok")
    return AgentStatus.of(status)


@router.get("/agents/{agent_id}", summary="the agent's current state", tags=["agents"])
async def agent_state(request: Request, agent_id: str, who: Principal = Depends(agent_access)) -> AgentStatus:
    try:
        return AgentStatus.of(await deps.services(request).acd.get_agent_state(agent_id))
    except UnknownAgent as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/agents/{agent_id}/login", tags=["agents"],
             summary="log in (available, or not ready with reason 'login' when ready is false)")
async def agent_login(request: Request, agent_id: str, body: LoginBody | None = Body(None),
                      who: Principal = Depends(agent_access)) -> AgentStatus:
    ready = (body or LoginBody()).ready
    acd = deps.services(request).acd
    return await _act(request, who, "login", agent_id, lambda: acd.login(agent_id, ready=ready))


@router.post("/agents/{agent_id}/logout", tags=["agents"], summary="log out now, or once the call in progress is done")
async def agent_logout(request: Request, agent_id: str, body: EmptyBody | None = Body(None),
                       who: Principal = Depends(agent_access)) -> AgentStatus:
    acd = deps.services(request).acd
    return await _act(request, who, "logout", agent_id, lambda: acd.logout(agent_id))


@router.post("/agents/{agent_id}/ready", tags=["agents"], summary="available for calls")
async def agent_ready(request: Request, agent_id: str, body: EmptyBody | None = Body(None),
                      who: Principal = Depends(agent_access)) -> AgentStatus:
    acd = deps.services(request).acd
    return await _act(request, who, "ready", agent_id, lambda: acd.ready(agent_id))


@router.post("/agents/{agent_id}/not-ready", tags=["agents"],
             summary="not ready with a reason, now or once the call in progress is done")
async def agent_not_ready(request: Request, agent_id: str, body: NotReadyBody,
                          who: Principal = Depends(agent_access)) -> AgentStatus:
    acd = deps.services(request).acd
    return await _act(request, who, "not-ready", agent_id, lambda: acd.not_ready(agent_id, body.reason))


@router.post("/agents/{agent_id}/end-wrapup", tags=["agents"], summary="end wrap-up early (no change outside wrap-up)")
async def agent_end_wrapup(request: Request, agent_id: str, body: EmptyBody | None = Body(None),
                           who: Principal = Depends(agent_access)) -> AgentStatus:
    acd = deps.services(request).acd
    return await _act(request, who, "end-wrapup", agent_id, lambda: acd.end_wrapup(agent_id))


@router.get("/queues/{queue}", tags=["queues"],
            summary="a queue's waiting calls and its agents by state (supervisors of its team)")
async def queue_snapshot(request: Request, queue: str, who: Principal = Depends(principal)) -> QueueSnapshot:
    acd = deps.services(request).acd
    if who.role == SUPERVISOR and acd.queues.policy(queue) is None:
        raise HTTPException(404, f"unknown queue {queue!r}")
    if not may_read_queue(who, queue, acd.queues):
        raise HTTPException(403, "not allowed to read this queue")
    try:
        return QueueSnapshot.model_validate((await acd.queue_snapshot(queue)).to_dict())
    except UnknownQueue as exc:
        raise HTTPException(404, str(exc)) from None
