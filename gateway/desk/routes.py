"""The agent desk's JSON routes (HTTP only): the desk page calls them with its sign-in session.

    GET  /desk/api/me                            the agent, their ACD state, the not-ready reasons
    POST /desk/api/state                         {state: ready|not_ready|logout, reason?}: their own state
    GET  /desk/api/customers?q=                  CRM search: name (Turkish-aware), account number, phone
    GET  /desk/api/customers/{id}?before=        the customer view; `before` pages the history back
    POST /desk/api/customers/{id}/numbers        {number, linkedid?}: link the caller's number
    POST /desk/api/customers                     {name, language?, number?, linkedid?}: a customer from the call
    POST /desk/api/dial                          {number}: click-to-dial
    POST /desk/api/calls/{linkedid}/transfer     {queue | agent, note}: blind transfer of their own call
    GET  /desk/api/calls/{linkedid}/wrapup       the wrap-up form of their own call
    POST /desk/api/calls/{linkedid}/wrapup       {disposition, notes?, open_case? | update_case?}: save it

Who: a live session (cookie; 401 without one). Agents act only on themselves and their own
calls (the services check the calls); supervisors may read customers, nothing else here;
admins nothing. State changes need the session's CSRF token (deps.csrf_guard, app-wide) and
each leaves an audit row, refused ones included. Errors are `{"error": "..."}`: 400 (the
field named), 401, 403, 404, 409, 502 (Asterisk could not do it), 503 (the CRM is down).
"""
from __future__ import annotations

import time
from typing import Annotated, Awaitable, Callable, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from gateway.acd.errors import AcdError, AgentStateError, UnknownAgent
from gateway.acd.states import AgentState
from gateway.api.schemas import AgentStatus, Error
from gateway.calls.agent_actions import ActionFailed, CallRefused
from gateway.calls.agent_actions import NotYourCall as NotYourCallToTransfer
from gateway.calls.dialling import NotDiallable, dialable_number
from gateway.crm.backend import CrmUnavailable
from gateway.crm.directory import (MAX_PAGE_SIZE, MAX_SEARCH_RESULTS, CaseNotFound, CustomerNotFound,
                                   DirectoryError, NumberTaken)
from gateway.desk import schemas as s
from gateway.desk.wrapup import NotYourCall as NotYourCallToWrapUp
from gateway.desk.wrapup import OpenCase, UpdateCase, WrapupError
from gateway.web import deps
from gateway.web.sessions import WebSession

PREFIX = "/desk/api"
AGENT, SUPERVISOR = "agent", "supervisor"
_ERRORS = {code: {"model": Error} for code in (400, 401, 403, 404, 409, 503)}

router = APIRouter(prefix=PREFIX, tags=["desk"], responses=_ERRORS)
T = TypeVar("T")

LinkedidPath = Annotated[str, Path(min_length=1, max_length=s.LINKEDID_MAX, description="the call's linkedid")]
CustomerId = Annotated[int, Path(gt=0, le=s.MAX_ID)]


# -- who is asking ------------------------------------------------------------------------------
async def signed_in(request: Request) -> WebSession:
    session = await deps.live_session(request)
    if session is None:
        raise HTTPException(401, "sign in first")
    return session


def _role(*roles: str):
    async def dependency(request: Request, session: WebSession = Depends(signed_in)) -> WebSession:
        if session.role not in roles or (session.role == AGENT and not session.agent_id):
            if request.method != "GET":
                await _audit(request, session, "desk.refused", request.url.path, "denied: role")
            raise HTTPException(403, "not allowed for your role")
        return session
    return dependency


the_agent = _role(AGENT)  # the agent's own desk
agent_or_supervisor = _role(AGENT, SUPERVISOR)  # reading the CRM


def _service(request: Request, name: str):
    service = getattr(deps.services(request), name, None)
    if service is None:
        raise HTTPException(503, "the desk is not available on this gateway")
    return service


async def _audit(request: Request, session: WebSession, action: str, target: str | None, outcome: str) -> None:
    await deps.audit(request, actor=session.username, role=session.role, action=action, target=target,
                     outcome=outcome)


# -- the services' refusals as HTTP --------------------------------------------------------------
def _status_for(exc: Exception) -> int | None:
    if isinstance(exc, (NotYourCallToTransfer, NotYourCallToWrapUp)):
        return 403
    if isinstance(exc, ActionFailed):
        return 502
    if isinstance(exc, (CustomerNotFound, CaseNotFound)):
        return 404
    if isinstance(exc, (CallRefused, NumberTaken, AgentStateError, UnknownAgent, AcdError)):
        return 409
    if isinstance(exc, (DirectoryError, WrapupError)):
        return 400
    if isinstance(exc, CrmUnavailable):
        return 503
    return None


def _message(exc: Exception, status: int) -> str:
    if status == 503:
        return "the CRM is unavailable; try again shortly"
    if isinstance(exc, UnknownAgent):
        return "your agent id is not in the roster"
    return str(exc)[:300] or type(exc).__name__


async def _read(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        status = _status_for(exc)
        if status is None:
            raise
        raise HTTPException(status, _message(exc, status)) from None


async def _change(request: Request, session: WebSession, action: str, target: str | None,
                  change: Callable[[], Awaitable[T]]) -> T:
    """Run a state change and audit how it ended (ok, or why it was refused)."""
    try:
        result = await change()
    except HTTPException as exc:
        await _audit(request, session, action, target, f"refused: {exc.detail}")
        raise
    except Exception as exc:
        status = _status_for(exc)
        await _audit(request, session, action, target,
                     f"refused: {_message(exc, status)}" if status else f"failed: {type(exc).__name__}")
        if status is None:
            raise
        raise HTTPException(status, _message(exc, status)) from None
    await _audit(request, session, action, target, "ok")
    return result


# -- the agent and their state -------------------------------------------------------------------
@router.get("/me", summary="the signed-in agent, their ACD state and the not-ready reasons")
async def me(request: Request, session: WebSession = Depends(the_agent)) -> s.Me:
    web = deps.services(request)
    status = await _read(web.acd.get_agent_state(session.agent_id))
    locale = session.locale if session.locale in ("tr", "en") else "tr"
    return s.Me(username=session.username, display_name=session.display_name, agent_id=session.agent_id,
                locale=locale, status=AgentStatus.of(status), server_time=time.time(),
                not_ready_reasons=[s.Reason(code=r.code, label=r.label(locale), tr=r.tr, en=r.en)
                                   for r in web.not_ready_reasons])


@router.post("/state", summary="the agent changes their own state: ready, not ready (with a reason) or logout")
async def change_state(request: Request, body: s.StateChange, session: WebSession = Depends(the_agent)
                       ) -> AgentStatus:
    web = deps.services(request)
    agent = session.agent_id
    if body.state == "not_ready":
        codes = [r.code for r in web.not_ready_reasons]
        if body.reason not in codes:
            await _audit(request, session, "desk.state", agent, "refused: reason")
            raise HTTPException(400, f'"reason": one of {", ".join(codes)}')
    elif body.reason is not None:
        raise HTTPException(400, '"reason": only for not_ready')

    async def change():
        acd = web.acd
        status = await acd.get_agent_state(agent)
        if status.state is AgentState.WRAP_UP and web.wrapups is not None:
            if body.state == "ready":
                return await web.wrapups.end_wrapup(agent)  # refused while a mandatory wrap-up is unsaved
            await web.wrapups.check_may_leave_wrapup(agent, status)
        if body.state == "logout":
            return await acd.logout(agent)
        if not status.logged_in:
            return await acd.login(agent, ready=body.state == "ready") if body.state == "ready" \
                else await _login_not_ready(acd, agent, body.reason)
        if body.state == "ready":
            return await acd.ready(agent)
        return await acd.not_ready(agent, body.reason)

    action = f"desk.state.{body.state}" + (f":{body.reason}" if body.reason else "")
    return AgentStatus.of(await _change(request, session, action, agent, change))


async def _login_not_ready(acd, agent: str, reason: str):
    await acd.login(agent, ready=False)
    return await acd.not_ready(agent, reason)


# -- customers -----------------------------------------------------------------------------------
@router.get("/customers", summary="search the CRM by name (Turkish-aware), account number or phone number")
async def search_customers(request: Request,
                           q: Annotated[str, Query(min_length=1, max_length=s.QUERY_MAX, description="what was typed")],
                           limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 20,
                           session: WebSession = Depends(agent_or_supervisor)) -> s.SearchResult:
    if not q.isprintable():
        raise HTTPException(400, '"query.q": must not contain control characters')
    hits = await _read(_service(request, "directory").search(q, limit=limit))
    return s.SearchResult(query=q, hits=[s.CustomerHit.model_validate(h.to_dict()) for h in hits])


@router.get("/customers/{customer_id}",
            summary="the customer view: profile, numbers, cases, activities (paged, newest first), orders")
async def customer_view(request: Request, customer_id: CustomerId,
                        before: Annotated[int | None, Query(gt=0, le=s.MAX_ID,
                                                            description="the history older than this activity "
                                                                        "(the previous page's next_before)")] = None,
                        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
                        session: WebSession = Depends(agent_or_supervisor)) -> s.CustomerView:
    directory = _service(request, "directory")
    view = (await _read(directory.customer_view(customer_id, activity_limit=limit))).to_dict()
    if before is not None:
        view["activities"] = (await _read(directory.activities(customer_id, before=before, limit=limit))).to_dict()
    return s.CustomerView.model_validate(view)


@router.post("/customers/{customer_id}/numbers", summary="give the customer this number (the caller's)")
async def link_number(request: Request, customer_id: CustomerId, body: s.LinkNumber,
                      session: WebSession = Depends(the_agent)) -> s.NumberLinked:
    directory = _service(request, "directory")

    async def change():
        if body.linkedid is not None:
            await _own_call(request, session.agent_id, body.linkedid)
        return await directory.link_number(customer_id, body.number, linkedid=body.linkedid)

    e164 = await _change(request, session, "desk.customer.link-number", f"customer {customer_id}", change)
    return s.NumberLinked(customer_id=customer_id, e164=e164)


@router.post("/customers", status_code=201, summary="a new customer from the call: name, language, the caller's number")
async def create_customer(request: Request, body: s.NewCustomer,
                          session: WebSession = Depends(the_agent)) -> s.CustomerCreated:
    directory = _service(request, "directory")

    async def change():
        if body.linkedid is not None:
            await _own_call(request, session.agent_id, body.linkedid)
        return await directory.create_customer(body.name, body.language, body.number, linkedid=body.linkedid)

    customer_id = await _change(request, session, "desk.customer.create", body.number, change)
    return s.CustomerCreated(customer_id=customer_id)


async def _own_call(request: Request, agent_id: str, linkedid: str) -> None:
    """The agent's call now (in the ACD) or the CRM's record of one they took; else 403."""
    web = deps.services(request)
    status = await web.acd.get_agent_state(agent_id)
    if status.call_id == linkedid and status.state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP):
        return
    record = await _service(request, "directory").call_record(linkedid)
    if record is None or record.agent_id != agent_id:
        raise HTTPException(403, "this call is not yours")


# -- calls ---------------------------------------------------------------------------------------
@router.post("/dial", summary="click-to-dial: the agent's phone rings first, then the number",
             responses={502: {"model": Error}})
async def dial(request: Request, body: s.Dial, session: WebSession = Depends(the_agent)) -> s.Dialled:
    actions = _service(request, "agent_calls")
    try:
        e164 = dialable_number(body.number, actions.default_region)
    except NotDiallable as exc:
        await _audit(request, session, "desk.dial", body.number, f"refused: {exc}")
        raise HTTPException(400, f'"number": {exc}') from None
    call = await _change(request, session, "desk.dial", e164, lambda: actions.dial(session.agent_id, e164))
    return s.Dialled(linkedid=call.linkedid, number=e164)


@router.post("/calls/{linkedid}/transfer", summary="blind transfer of the agent's own call to a queue or an agent",
             responses={502: {"model": Error}})
async def transfer(request: Request, linkedid: LinkedidPath, body: s.Transfer,
                   session: WebSession = Depends(the_agent)) -> s.Transferred:
    actions = _service(request, "agent_calls")
    agent = session.agent_id
    if body.queue is not None:
        change = lambda: actions.transfer_to_queue(agent, linkedid, body.queue, body.note)  # noqa: E731
        target = f"call {linkedid} to queue {body.queue}"
    else:
        change = lambda: actions.transfer_to_agent(agent, linkedid, body.agent, body.note)  # noqa: E731
        target = f"call {linkedid} to agent {body.agent}"
    await _change(request, session, "desk.transfer", target, change)
    return s.Transferred(linkedid=linkedid, queue=body.queue, agent=body.agent)


@router.get("/calls/{linkedid}/wrapup", summary="the wrap-up form of the agent's own call")
async def wrapup_form(request: Request, linkedid: LinkedidPath,
                      session: WebSession = Depends(the_agent)) -> s.WrapupForm:
    form = await _read(_service(request, "wrapups").form(session.agent_id, linkedid))
    return s.WrapupForm.model_validate(form.to_dict(session.locale))


@router.post("/calls/{linkedid}/wrapup", summary="save the wrap-up (disposition, notes, case) into the call's activity")
async def save_wrapup(request: Request, linkedid: LinkedidPath, body: s.WrapupSave,
                      session: WebSession = Depends(the_agent)) -> s.WrapupSaved:
    wrapups = _service(request, "wrapups")
    case = None
    if body.open_case is not None:
        case = OpenCase(body.open_case.subject, body.open_case.priority)
    elif body.update_case is not None:
        case = UpdateCase(body.update_case.case_id, body.update_case.status, body.update_case.priority)
    result = await _change(request, session, "desk.wrapup", f"call {linkedid}: {body.disposition}",
                           lambda: wrapups.save(session.agent_id, linkedid, body.disposition, body.notes, case,
                                                finish=body.finish))
    return s.WrapupSaved.model_validate(result.to_dict())
