"""What an agent does with calls from their desk: click-to-dial and blind transfers.

The web layer checks who is asking (session, role) and calls these; they check what the call
and the agent's state allow, and raise a CallRefused whose message the agent can read. They
know the tracker, the ACD and an Asterisk port, never a request or a socket.

    actions = AgentCallActions(acd=..., tracker=..., asterisk=..., dialler=..., lookup=crm.lookup,
                               instance="gw1", default_region="TR")
    call = await actions.dial("1001", "0532 123 45 67")
    await actions.transfer_to_queue("1001", call.linkedid, "support", "wants a refund")
    await actions.transfer_to_agent("1001", call.linkedid, "1002", "asked for Mehmet")

A transfer keeps the hold rule: the caller goes back to [ctigw-hold] (the liveness check
applies: CTIGW_OWNER is still on their channel), and if the ACD cannot take them back they
go to the fallback queue rather than wait where nobody looks for them.
"""
from __future__ import annotations

import logging
import unicodedata
import uuid
from typing import Awaitable, Callable, Protocol

from gateway.acd.errors import AgentStateError
from gateway.acd.states import AgentState
from gateway.calls.dialling import NotDiallable, dialable_number
from gateway.calls.hold import owner_token
from gateway.calls.model import Call, CallPhase

log = logging.getLogger(__name__)

NOTE_LIMIT = 1000
_NOTE_CONTROLS_ALLOWED = frozenset("\n\r\t")


class CallRefused(Exception):
    """The action cannot be done; the message says why, in words for the agent."""


class NotYourCall(CallRefused):
    pass


class ActionFailed(CallRefused):
    """Asterisk or the ACD could not do it (the agent may try again)."""


class CallerOnHold(Protocol):
    """The call layer's hands on a caller's channel (ami_bridge.AmiConnector)."""

    async def return_to_hold(self, channel: str) -> None: ...
    async def to_fallback(self, channel: str) -> None: ...


class Dialler(Protocol):
    """Rings the agent's endpoint, then the customer's number (ami_bridge.AmiDialler)."""

    async def originate(self, *, endpoint: str, number: str, call_id: str, owner: str) -> None: ...


class AgentCallActions:
    def __init__(self, *, acd, tracker, asterisk: CallerOnHold, dialler: Dialler,
                 lookup: Callable[[str], Awaitable[object]], instance: str, default_region: str, cards=None):
        self.acd = acd
        self.tracker = tracker
        self.asterisk = asterisk
        self.dialler = dialler
        self.lookup = lookup  # the CRM's caller view for a number
        self.instance = instance
        self.default_region = default_region
        self.cards = cards  # a restarted gateway adopts these calls by their cards (adoption.py)

    # -- click-to-dial -------------------------------------------------------------------------
    async def dial(self, agent_id: str, number: str) -> Call:
        """Ring the agent's phone, then `number`; the agent gets the customer's pop now."""
        try:
            e164 = dialable_number(number, self.default_region)
        except NotDiallable as exc:
            raise CallRefused(str(exc)) from None
        agent = self.acd.roster.agent(agent_id)
        if agent is None:
            raise CallRefused(f"unknown agent {agent_id!r}")
        call_id = f"out-{owner_token(self.instance)}-{uuid.uuid4().hex[:16]}"
        try:
            await self.acd.start_outbound(agent_id, call_id)  # no inbound call is offered meanwhile
        except AgentStateError as exc:
            raise CallRefused(str(exc)) from None
        try:
            caller = await self.lookup(e164)
        except Exception:
            log.exception("CRM lookup for outbound call %s failed; dialling anyway", call_id)
            caller = None
        call = await self.tracker.begin_outbound(linkedid=call_id, agent_id=agent_id, number=e164, caller=caller)
        await self._save_card(call)  # a restarted gateway then ends it properly, freeing the agent
        try:
            await self.dialler.originate(endpoint=agent.endpoint, number=e164, call_id=call_id,
                                         owner=owner_token(self.instance))
        except Exception as exc:
            log.warning("outbound call %s for agent %s could not be placed: %s", call_id, agent_id, exc)
            await self.tracker.end(call)  # frees the agent; the attempt is on the customer's record
            raise ActionFailed(f"the call could not be placed: {exc}") from None
        return call

    # -- blind transfer --------------------------------------------------------------------------
    async def transfer_to_queue(self, agent_id: str, linkedid: str, queue: str, note: str = "") -> Call:
        """Pass the caller to `queue`: they wait again with their data and keep their one activity."""
        note = checked_note(note)
        if not isinstance(queue, str) or self.acd.queues.policy(queue) is None:
            raise CallRefused(f"there is no queue {str(queue)[:40]!r}")
        return await self._transfer(agent_id, linkedid, note, queue=queue, to_agent=None)

    async def transfer_to_agent(self, agent_id: str, linkedid: str, target_agent: str, note: str = "") -> Call:
        """Pass the caller to one named agent: only they may take the call (it waits for them)."""
        note = checked_note(note)
        if not isinstance(target_agent, str) or self.acd.roster.agent(target_agent) is None:
            raise CallRefused(f"there is no agent {str(target_agent)[:40]!r}")
        if target_agent == agent_id:
            raise CallRefused("the call is already yours")
        if not (await self.acd.get_agent_state(target_agent)).logged_in:
            raise CallRefused(f"agent {target_agent} is logged out")
        call = self._own_call(agent_id, linkedid)
        return await self._transfer(agent_id, linkedid, note, queue=call.queue, to_agent=target_agent)

    async def _transfer(self, agent_id: str, linkedid: str, note: str, *, queue: str, to_agent: str | None) -> Call:
        call = self._own_call(agent_id, linkedid)
        status = await self.acd.get_agent_state(agent_id)
        if status.state is not AgentState.ON_CALL or status.call_id != linkedid:
            raise NotYourCall("only the agent talking to the caller may transfer the call")
        try:
            await self.asterisk.return_to_hold(call.caller_channel)
        except Exception as exc:  # nothing has changed: the agent is still talking to the caller
            raise ActionFailed(f"the caller could not be transferred: {exc}") from None
        await self.tracker.transferred_away(call, from_agent=agent_id, note=note, to_queue=queue, to_agent=to_agent)
        try:
            await self.acd.transfer(linkedid, agent_id, queue, required_agent=to_agent)
        except Exception as exc:
            log.exception("call %s: the ACD could not take the transferred caller back; fallback queue", linkedid)
            call.queue_exit = "fallback"
            try:
                await self.asterisk.to_fallback(call.caller_channel)
            except Exception:
                log.exception("call %s: the fallback failed too; the hold's own check will move the caller",
                              linkedid)
            try:  # the agent's leg is gone either way: their part of the call is over
                await self.acd.agent_leg_ended(agent_id, linkedid)
            except Exception:
                log.exception("call %s: agent %s could not be moved to wrap-up", linkedid, agent_id)
            raise ActionFailed(f"the caller went to the fallback queue: {exc}") from None
        await self._save_card(call)
        return call

    async def _save_card(self, call: Call) -> None:
        if self.cards is None:
            return
        try:
            await self.cards.save(call)
        except Exception:
            log.exception("call %s: saving its card failed; a restart would lose track of it", call.linkedid)

    def _own_call(self, agent_id: str, linkedid: str) -> Call:
        call = self.tracker.calls.get(linkedid) if isinstance(linkedid, str) else None
        if (call is None or call.direction != "inbound" or call.phase is not CallPhase.CONNECTED
                or call.agent_id != agent_id):
            raise NotYourCall("only the agent talking to the caller may transfer the call")
        return call


def checked_note(note) -> str:
    """The agent's note for the next agent: text, kept as written (the desk renders it as text)."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise CallRefused("the note must be text")
    if len(note) > NOTE_LIMIT:
        raise CallRefused(f"the note is too long (at most {NOTE_LIMIT} characters)")
    if any(unicodedata.category(ch) == "Cc" and ch not in _NOTE_CONTROLS_ALLOWED for ch in note):
        raise CallRefused("the note contains control characters")
    return note.strip()
