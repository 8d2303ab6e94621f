"""The agent desk over HTTP: the page, the agent's live socket, state buttons and the wrap-up.

    GET  /desk                   the agent's working screen (supervisors: the placeholder page)
    WS   /desk/ws                the agent's live desk: {"type": "hello"} with the ACD state and the
                                 desk's current message, then every message of the agent's own desk
                                 channel ({"type": "desk"}) and their ACD state changes ({"type": "agent"})
    POST /desk/state             {"state": "ready" | "not_ready" | "logged_out", "reason": ...}
    GET  /desk/wrapup/{call_id}  the wrap-up form of one of the agent's calls
    POST /desk/wrapup            {"call_id", "disposition", "notes", "case_id", "case_status"}
    POST /desk/wrapup/done       ends an optional after-call work

Routes validate and call the ACD, DeskService and WrapupService; every POST is checked for the
session, the agent role and the CSRF token (deps.csrf_guard) and written to the audit log. An
agent only ever acts on themselves: the agent id comes from the session, never from the request.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from gateway.acd.errors import AcdError
from gateway.crm.backend import CrmUnavailable
from gateway.crm.models import CASE_STATUSES
from gateway.desk.feed import AgentFeed
from gateway.desk.wrapup import UpdateCase, WrapupError
from gateway.web import deps
from gateway.web.deps import require_role, require_socket_role, services
from gateway.web.i18n import translations

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
WEB_TEMPLATES = HERE.parent / "web" / "templates"
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader([HERE / "templates", WEB_TEMPLATES]),
                                            autoescape=True))
router = APIRouter(include_in_schema=False)
agent_only = require_role("agent")
# Seconds: an open socket closes soon after its session ends. Each check restarts the session's
# idle clock: an agent waiting for calls on an open desk is not idle (session_absolute still ends it).
SESSION_RECHECK = 15.0


def _agent_id(session) -> str:
    if not session.agent_id:
        raise HTTPException(403, "this account has no agent")
    return session.agent_id


def _desk_services(request):
    web = services(request)
    if web.desk is None:
        raise HTTPException(503, "the desk is not running")
    return web


# -- the page -------------------------------------------------------------------------------
def _strings(gettext, reasons) -> dict:
    """Every string the page's script shows, from the catalogue."""
    _ = gettext
    return {
        "state": {"logged_out": _("Logged out"), "available": _("Ready"), "reserved": _("Call coming"),
                  "ringing": _("Ringing"), "on_call": _("On a call"), "wrap_up": _("After-call work"),
                  "not_ready": _("Not ready")},
        "reason": {**{code: _(label) for code, label in REASON_LABELS.items()}, **dict(reasons)},
        "kind": {"offer": _("Incoming call"), "answered": _("Call in progress"), "withdrawn": _("Call withdrawn"),
                 "ended": _("Call ended")},
        "withdrawn": {"caller_hung_up": _("The caller hung up before you answered."),
                      "no_answer": _("Not answered in time: the call went on to another agent."),
                      "taken_elsewhere": _("Another agent took this call."),
                      "transferred": _("The call was transferred before you answered.")},
        "rule": {"last_agent": _("You spoke with this caller last time."),
                 "best_proficiency": _("Your skill for this call is the best available."),
                 "longest_idle": _("You were free the longest."),
                 "only_candidate": _("You were the only agent who could take it."),
                 "tie_break": _("Equal with others: your agent number decided."),
                 "first_free_agent": _("The caller waited; you came free first.")},
        "case_status": {code: _(CASE_STATUS_LABELS[code]) for code in CASE_STATUSES},
        "priority": {"low": _("low priority"), "normal": _("normal priority"), "high": _("high priority"),
                     "urgent": _("urgent")},
        "tier": {"platinum": _("Platinum"), "gold": _("Gold"), "silver": _("Silver"), "bronze": _("Bronze"),
                 "standard": _("Standard"), "lead": _("Lead")},
        "activity": {"call": _("call"), "email": _("e-mail"), "note": _("note"), "case_update": _("case update"),
                     "sms": _("SMS"), "inbound": _("inbound"), "outbound": _("outbound"),
                     "answered": _("answered"), "abandoned_ivr": _("hung up in the IVR"),
                     "abandoned_queue": _("hung up while waiting"), "voicemail": _("voicemail"),
                     "callback": _("callback"), "transferred": _("transferred")},
        "unknown_caller": _("Unknown caller"),
        "withheld": _("Number withheld"),
        "repeat": _("Repeat caller: %(count)s calls in the last 7 days"),
        "candidates": _("Agents who could take it: %(count)s"),
        "waited": _("%(seconds)s s"),
        "none": _("None"),
        "connected": _("Connected"),
        "reconnecting": _("Connection lost, reconnecting…"),
        "saved": _("Wrap-up saved."),
        "spooled": _("Wrap-up kept; it is written to the CRM when it is back."),
        "save_failed": _("The wrap-up was not saved: %(error)s"),
        "action_failed": _("That did not work: %(error)s"),
        "acw_left": _("%(seconds)s s of after-call work left"),
        "acw_over": _("After-call work time is over."),
        "no_case_update": _("Do not update a case"),
        "transfer_from": _("Transferred by agent %(agent)s"),
        "inbound": _("Inbound"),
        "outbound": _("Outbound"),
        "lead": _("Lead"),
        "crm_down": _("The CRM is unavailable: caller details are missing."),
    }


CASE_STATUS_LABELS = {"open": "Open", "pending": "Pending", "resolved": "Resolved", "closed": "Closed"}
# Reasons the ACD itself gives (the configured ones carry their own labels: [acd] not_ready_reasons).
REASON_LABELS = {"RONA": "Missed call", "login": "Just signed in"}


@router.get("/desk")
async def desk_page(request: Request, session=Depends(require_role("agent", "supervisor"))) -> HTMLResponse:
    web = services(request)
    if session.role != "agent" or not session.agent_id or web.desk is None:
        from gateway.web.pages import desk as placeholder
        return await placeholder(request, session)
    gettext = translations(session.locale).gettext
    reasons = [(r.code, r.label(session.locale)) for r in web.not_ready_reasons]
    strings = _strings(gettext, reasons)
    return templates.TemplateResponse(request, "agent_desk.html", {
        "locale": session.locale, "_": gettext, "session": session, "reasons": reasons,
        "strings": strings, "case_statuses": [(c, gettext(CASE_STATUS_LABELS[c])) for c in CASE_STATUSES]})


# -- the live socket ------------------------------------------------------------------------
@router.websocket("/desk/ws")
async def desk_socket(websocket: WebSocket, session=Depends(require_socket_role("agent"))):
    web = services(websocket)
    if web.desk is None or not session.agent_id:
        await websocket.close(code=1011)
        return
    agent_id = session.agent_id
    # Listen before reading the state: nothing that happens in between is lost (the page
    # orders by version and drops what it already has).
    async with _feed(websocket, web).listen(agent_id) as listener:
        try:
            await websocket.accept()
            status = await web.acd.get_agent_state(agent_id)
            current = await web.desk.current(agent_id)
            await websocket.send_json({"type": "hello", "now": time.time(), "agent": status.to_event(),
                                       "desk": current.model_dump(mode="json") if current is not None else None})
            relay = asyncio.ensure_future(_relay(websocket, listener))
            closed = asyncio.ensure_future(_until_closed(websocket))
            expired = asyncio.ensure_future(_until_session_ends(web, session.id))
            done, pending = await asyncio.wait({relay, closed, expired}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if expired in done:
                with contextlib.suppress(Exception):
                    await websocket.close(code=1008, reason="signed out")
            for task in done:
                if not task.cancelled() and task.exception() is not None \
                        and not isinstance(task.exception(), WebSocketDisconnect):
                    log.warning("desk socket of agent %s: %r", agent_id, task.exception())
        except WebSocketDisconnect:
            pass


def _feed(websocket: WebSocket, web) -> AgentFeed:
    """The application's one feed of the agents' news (made with its first socket)."""
    state = websocket.app.state
    feed = getattr(state, "desk_feed", None)
    if feed is None or feed.redis is not web.desk.redis:
        feed = state.desk_feed = AgentFeed(web.desk.redis, web.desk.channel, web.acd.store.keys.channel)
    return feed


async def _relay(websocket: WebSocket, listener) -> None:
    while True:
        kind, body = await listener.get()  # ("desk", message) or ("agent", state), as JSON text
        # {"type": kind, "now": ..., kind: body}, without decoding and encoding the body again
        await websocket.send_text(f'{{"type":"{kind}","now":{time.time()!r},"{kind}":{body}}}')


async def _until_closed(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _until_session_ends(web, session_id: str) -> None:
    while True:
        await asyncio.sleep(SESSION_RECHECK)
        if await web.sessions.get(session_id) is None:
            return


# -- state buttons --------------------------------------------------------------------------
class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["ready", "not_ready", "logged_out"]
    reason: str | None = Field(default=None, max_length=32)


@router.post("/desk/state")
async def change_state(request: Request, change: StateChange, session=Depends(agent_only)) -> JSONResponse:
    web = _desk_services(request)
    agent_id = _agent_id(session)
    acd = web.acd
    if change.state == "not_ready" and change.reason not in {r.code for r in web.not_ready_reasons}:
        raise HTTPException(400, "choose one of the configured not-ready reasons")
    target = change.reason if change.state == "not_ready" else None
    try:
        status = await acd.get_agent_state(agent_id)
        if change.state == "logged_out":
            status = await acd.logout(agent_id)
        elif not status.logged_in:
            status = await acd.login(agent_id, ready=change.state == "ready")
            if change.state == "not_ready":
                status = await acd.not_ready(agent_id, change.reason)
        elif change.state == "ready":
            status = await acd.ready(agent_id)
        else:
            status = await acd.not_ready(agent_id, change.reason)
    except AcdError as exc:
        await deps.audit(request, actor=session.username, role=session.role, action=f"desk.{change.state}",
                         target=target, outcome="refused")
        raise HTTPException(409, str(exc)) from None
    await deps.audit(request, actor=session.username, role=session.role, action=f"desk.{change.state}",
                     target=target, outcome="ok")
    return JSONResponse({"agent": status.to_event(), "now": time.time()})


# -- wrap-up --------------------------------------------------------------------------------
CallId = str


class WrapupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1, max_length=64)
    disposition: str = Field(min_length=1, max_length=64)
    notes: str | None = Field(default=None, max_length=4000)
    case_id: int | None = Field(default=None, gt=0)
    case_status: Literal["open", "pending", "resolved", "closed"] | None = None


@router.get("/desk/wrapup/{call_id}")
async def wrapup_form(request: Request, call_id: str, session=Depends(agent_only)) -> JSONResponse:
    web = _desk_services(request)
    if web.wrapups is None:
        raise HTTPException(503, "wrap-up is not running")
    try:
        form = await web.wrapups.form(_agent_id(session), call_id)
    except WrapupError as exc:
        raise HTTPException(404, str(exc)) from None
    except CrmUnavailable:
        raise HTTPException(503, "the CRM is unavailable") from None
    return JSONResponse(form.to_dict(session.locale))


@router.post("/desk/wrapup")
async def save_wrapup(request: Request, body: WrapupRequest, session=Depends(agent_only)) -> JSONResponse:
    web = _desk_services(request)
    if web.wrapups is None:
        raise HTTPException(503, "wrap-up is not running")
    agent_id = _agent_id(session)
    case = UpdateCase(body.case_id, status=body.case_status) if body.case_id is not None else None
    try:
        result = await web.wrapups.save(agent_id, body.call_id, body.disposition, body.notes, case)
    except WrapupError as exc:
        await deps.audit(request, actor=session.username, role=session.role, action="desk.wrapup",
                         target=body.call_id, outcome="refused")
        raise HTTPException(422, str(exc)) from None
    except CrmUnavailable:
        raise HTTPException(503, "the CRM is unavailable") from None
    await deps.audit(request, actor=session.username, role=session.role, action="desk.wrapup",
                     target=body.call_id, outcome="ok")
    return JSONResponse(result.to_dict())


@router.post("/desk/wrapup/done")
async def end_wrapup(request: Request, session=Depends(agent_only)) -> JSONResponse:
    web = _desk_services(request)
    if web.wrapups is None:
        raise HTTPException(503, "wrap-up is not running")
    try:
        status = await web.wrapups.end_wrapup(_agent_id(session))
    except AcdError as exc:
        await deps.audit(request, actor=session.username, role=session.role, action="desk.end_wrapup",
                         target=None, outcome="refused")
        raise HTTPException(409, str(exc)) from None
    await deps.audit(request, actor=session.username, role=session.role, action="desk.end_wrapup",
                     target=None, outcome="ok")
    return JSONResponse({"agent": status.to_event(), "now": time.time()})
