"""The agent desk's page and live socket (its actions are the JSON routes of routes.py, /desk/api).

    GET  /desk                   the agent's working screen (supervisors: the placeholder page)
    WS   /desk/ws                the agent's live desk: {"type": "hello"} with the ACD state and the
                                 desk's current message, then every message of the agent's own desk
                                 channel ({"type": "desk"}) and their ACD state changes ({"type": "agent"})

The socket is the agent's own: the agent id comes from the session, never from the request.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.websockets import WebSocketDisconnect

from gateway.calls.agent_actions import NOTE_LIMIT
from gateway.crm.directory import MAX_SUBJECT_LENGTH
from gateway.crm.models import CASE_PRIORITIES, CASE_STATUSES
from gateway.desk.feed import AgentFeed
from gateway.desk.transfer_panel import transfer_choices, transfer_strings
from gateway.web.deps import require_role, require_socket_role, services
from gateway.web.i18n import translations

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
WEB_TEMPLATES = HERE.parent / "web" / "templates"
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader([HERE / "templates", WEB_TEMPLATES]),
                                            autoescape=True))
router = APIRouter(include_in_schema=False)
# Seconds: an open socket closes soon after its session ends. Each check restarts the session's
# idle clock: an agent waiting for calls on an open desk is not idle (session_absolute still ends it).
SESSION_RECHECK = 15.0


# -- the page -------------------------------------------------------------------------------
def _strings(gettext, reasons) -> dict:
    """Every string the page's script shows, from the catalogue."""
    _ = gettext
    return {
        "state": {"logged_out": _("Logged out"), "available": _("Ready"), "reserved": _("Call coming"),
                  "ringing": _("Ringing"), "on_call": _("On a call"), "wrap_up": _("After-call work"),
                  "not_ready": _("Not ready")},
        "reason": {**{code: _(label) for code, label in REASON_LABELS.items()}, **dict(reasons)},
        "kind": {"offer": _("Incoming call"), "dialling": _("Outgoing call: your phone rings first"), "answered": _("Call in progress"), "withdrawn": _("Call withdrawn"),
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
        "no_case_action": _("No case"),
        "new_case": _("Open a new case"),
        "update_case": _("Update an open case"),
        "case_subject_missing": _("Give the new case a subject."),
        "case_opened": _("Case #%(id)s opened."),
        "case_not_saved": _("The case was not saved: the CRM is unavailable."),
        "transfer_from": _("Transferred by agent %(agent)s"),
        "inbound": _("Inbound"),
        "outbound": _("Outbound"),
        "lead": _("Lead"),
        "crm_down": _("The CRM is unavailable: caller details are missing."),
        "customers": _customer_strings(_),
        "transfer": transfer_strings(_),
        # A refused request, by HTTP status (net.js refusalText); the server's English stays in the console.
        "refused": {"0": _("The gateway cannot be reached; check the connection."),
                    "400": _("The entry was not accepted; check what you typed."),
                    "401": _("Your session has ended; sign in again."),
                    "403": _("You are not allowed to do that."),
                    "404": _("Not found; it may have been removed."),
                    "409": _("Not possible right now (for example, save the wrap-up first)."),
                    "422": _("The entry was not accepted; check what you typed."),
                    "429": _("Too many attempts; wait a moment."),
                    "502": _("The phone system could not do it; try again."),
                    "503": _("The CRM or the desk is unavailable; try again shortly."),
                    "other": _("Something went wrong; try again.")},
    }


def _customer_strings(_) -> dict:
    """The customer panel's strings (static/customers.js): search, link, new customer, the view."""
    return {
        "find": _("Find a customer"),
        "searching": _("Searching…"),
        "no_hits": _("No customer found."),
        "hits": _("Customers found: %(count)s"),
        "search_hint": _("Type at least two letters of a name, an account number or a phone number."),
        "view": _("View"),
        "open_customer": _("Open customer"),
        "link": _("Link this caller's number"),
        "unknown_on_call": _("Caller %(number)s is not a customer yet: link the number or add them."),
        "lead_on_call": _("Caller %(number)s is only a lead: link the number to a customer or add them."),
        "linked": _("Number %(number)s is now linked to %(name)s."),
        "created": _("%(name)s was added as a customer with number %(number)s."),
        "change_failed": _("That was not saved: %(error)s"),
        "load_failed": _("That could not be loaded: %(error)s"),
        "dialling": _("Calling %(number)s: your phone rings first."),
        "dial_failed": _("The call could not be started: %(error)s"),
        "call": _("Call"),
        "primary": _("primary"),
        "owner": _("agent %(agent)s"),
        "segment": {"consumer": _("Consumer"), "business": _("Business")},
        "order_status": {"delivered": _("delivered"), "shipped": _("shipped"), "returned": _("returned"),
                         "cancelled": _("cancelled")},
    }


CASE_STATUS_LABELS = {"open": "Open", "pending": "Pending", "resolved": "Resolved", "closed": "Closed"}
CASE_PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
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
    transfer = transfer_choices(web.acd, session.agent_id, session.locale)
    strings = _strings(gettext, reasons)
    strings["queue"] = dict(transfer["queues"])  # the pop names the call's queue as the transfer list does
    return templates.TemplateResponse(request, "agent_desk.html", {
        "locale": session.locale, "_": gettext, "session": session, "reasons": reasons,
        "strings": strings, "case_statuses": [(c, gettext(CASE_STATUS_LABELS[c])) for c in CASE_STATUSES],
        "case_priorities": [(c, gettext(CASE_PRIORITY_LABELS[c])) for c in CASE_PRIORITIES],
        "case_subject_max": MAX_SUBJECT_LENGTH,
        "transfer": transfer, "transfer_note_max": NOTE_LIMIT})


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
