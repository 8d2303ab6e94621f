"""The call state machine: joins what the IVR decided with what Asterisk reports.

It tells the ACD about ringing, answers, ring-no-answer, abandons and ends; it tells the
agent's desk (DeskPort) when their phone starts ringing (the screen pop), when they answer,
when the pop is withdrawn (caller hung up, no answer, taken elsewhere) and when the call is
over; and it writes exactly one CRM activity per call when the caller's channel hangs up. It
follows the agent's own calls too: click-to-dial (outbound, the agent's leg first) and blind
transfers (the first agent's leg ends, the caller's call goes on). It knows nothing of AMI
frames (see ami_bridge.py), Redis (the desk service) nor SQL (it hands a CallActivity to the
activity log).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

from gateway.calls.events import (CallTransferred, ChannelHungUp, DialFinished, DialStarted, HoldChanged,
                                  OriginateFailed)
from gateway.calls.model import Call, CallPhase
from gateway.calls.ports import AcdPort, DeskPort
from gateway.crm.views import CallerView
from gateway.desk.pop import ScreenPop, WithdrawReason, build_pop

log = logging.getLogger(__name__)


class CallTracker:
    def __init__(
        self,
        *,
        acd: AcdPort | None,
        agent_for_endpoint: Callable[[str], str | None],
        record_activity: Callable[[Call], Awaitable[None]],
        desk: DeskPort | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.acd = acd
        self.agent_for_endpoint = agent_for_endpoint
        self.record_activity = record_activity
        self.desk = desk
        self.clock = clock
        self.calls: dict[str, Call] = {}
        self.ended: list[Call] = []  # recent ended calls, for tests and the wallboard
        self._max_ended = 1000

    # -- from the FastAGI side -------------------------------------------------------------
    def begin(self, *, linkedid: str, uniqueid: str, channel: str, raw_ani: str, dnis: str,
              caller: CallerView | None = None) -> Call:
        call = Call(linkedid=linkedid, caller_uniqueid=uniqueid, caller_channel=channel,
                    raw_ani=raw_ani, dnis=dnis, started_at=self.clock(), caller=caller)
        self.calls[linkedid] = call
        log.info("call %s from %s: %s", linkedid, _who(call), _caller_label(caller))
        return call

    def queued(self, call: Call, queue: str) -> None:
        call.ivr_running = False
        call.phase = CallPhase.QUEUED
        call.queue = queue
        call.queued_at = self.clock()
        log.info("call %s queued in %s after IVR %s", call.linkedid, queue, " > ".join(call.ivr_path))

    def adopt(self, call: Call) -> None:
        """Follow a call that began before this process did (see adoption.py)."""
        self.calls[call.linkedid] = call
        log.info("call %s from %s adopted in phase %s", call.linkedid, _who(call), call.phase.value)

    async def begin_outbound(self, *, linkedid: str, agent_id: str, number: str, caller=None) -> Call:
        """The agent's click-to-dial: Asterisk rings the agent's phone first (their leg carries
        the call's linkedid), then the customer's. The agent's desk pops the customer now."""
        now = self.clock()
        call = Call(linkedid=linkedid, caller_uniqueid=linkedid, caller_channel="", raw_ani=number, dnis="",
                    started_at=now, caller=caller, phase=CallPhase.RINGING, ivr_running=False,
                    direction="outbound", agent_id=agent_id, ringing_at=now)
        self.calls[linkedid] = call
        log.info("call %s: agent %s dials %s (%s)", linkedid, agent_id, number, _caller_label(caller))
        if self.desk is not None:
            await self._safely(self.desk.offer(agent_id, pop_of(call, agent_id)), "screen pop")
        return call

    def transferred_out(self, call: Call, *, from_agent: str, note: str, to_queue: str | None,
                        to_agent: str | None = None) -> None:
        """The agent passed the caller on (a blind transfer): the caller waits again, and their
        one activity will name every agent. The first agent's leg ending is not the call's end."""
        call.transfers.append({"from_agent": from_agent, "to_queue": to_queue, "to_agent": to_agent,
                               "note": note, "at": self.clock()})
        call.transferred = True
        call.phase = CallPhase.QUEUED
        call.queue = to_queue or call.queue
        call.agent_id = None
        call.agent_channel = None
        log.info("call %s transferred by agent %s to %s", call.linkedid, from_agent,
                 f"agent {to_agent}" if to_agent else f"queue {to_queue}")

    async def transferred_away(self, call: Call, *, from_agent: str, note: str, to_queue: str | None,
                               to_agent: str | None = None) -> None:
        """transferred_out, and the first agent's desk is told their part is over (their
        after-call work begins), showing the call as they had it."""
        pop = pop_of(call, from_agent)
        self.transferred_out(call, from_agent=from_agent, note=note, to_queue=to_queue, to_agent=to_agent)
        if self.desk is not None:
            await self._safely(self.desk.ended(from_agent, pop), "desk: transferred away")

    # -- from the ACD's connector: a caller leaving the queue other than to an agent --------
    def callback_number(self, linkedid: str) -> str | None:
        """The number to call the caller back on: their own, when the CRM could read it."""
        call = self.calls.get(linkedid)
        return call.caller.ani.e164 if call is not None and call.caller is not None else None

    def left_queue(self, linkedid: str, where: str, *, recording: str | None = None,
                   callback_number: str | None = None) -> None:
        """The caller went to `where` (voicemail, callback, fallback); the activity says so."""
        call = self.calls.get(linkedid)
        if call is None:
            return
        call.queue_exit = where
        if recording:
            call.ivr_inputs["voicemail"] = recording  # where the IVR's own voicemail puts it too
        if callback_number:
            call.ivr_inputs["callback_number"] = callback_number
        log.info("call %s left queue %s for %s%s", linkedid, call.queue, where,
                 f" (call back on {callback_number})" if callback_number else "")

    def offered(self, linkedid: str, agent_id: str, reason: dict | None) -> None:
        """The ACD booked `agent_id` for the call for `reason`; the agent's pop says why."""
        call = self.calls.get(linkedid)
        if call is not None:
            call.routing, call.routing_agent = reason, agent_id

    async def ivr_finished(self, call: Call) -> None:
        """The AGI handler is done with the call; end it now if the caller already left."""
        call.ivr_running = False
        if call.caller_gone_at is not None:
            await self.end(call, at=call.caller_gone_at)

    # -- from Asterisk (AMI, normalised) ---------------------------------------------------
    async def handle(self, event) -> None:
        call = self.calls.get(event.linkedid)
        if call is None:
            return  # not a call the gateway routes (e.g. an agent's own test call)
        if call.direction == "outbound":
            await self._outbound_event(call, event)
            return
        if isinstance(event, DialStarted):
            await self._dial_started(call, event)
        elif isinstance(event, DialFinished):
            await self._dial_finished(call, event)
        elif isinstance(event, HoldChanged):
            self._hold_changed(call, event)
        elif isinstance(event, ChannelHungUp):
            await self._hung_up(call, event)
        elif isinstance(event, CallTransferred) and call.answered_at is not None:
            call.transferred = True  # the agent passed the caller on: the activity says so
            log.info("call %s transferred by agent %s", call.linkedid, call.agent_id)
            await self._desk_ended(call)  # their part is over: after-call work now
        elif isinstance(event, CallTransferred):
            await self._withdraw_ringing(call, WithdrawReason.TRANSFERRED)

    async def _outbound_event(self, call: Call, event) -> None:
        if isinstance(event, DialStarted):
            # The agent's phone answered: the dialplan now dials the customer.
            call.agent_picked_up_at = call.agent_picked_up_at or event.at
            log.info("call %s: agent %s picked up; dialling the customer", call.linkedid, call.agent_id)
        elif isinstance(event, DialFinished):
            call.dial_status = event.status
            if event.status == "ANSWER" and call.answered_at is None:
                call.phase = CallPhase.CONNECTED
                call.answered_at = event.at
                log.info("call %s: the customer answered agent %s", call.linkedid, call.agent_id)
                await self._desk_answered(call, call.agent_id)
        elif isinstance(event, ChannelHungUp) and event.uniqueid == call.caller_uniqueid:
            await self.end(call, at=event.at)  # the agent's leg: the call is over
        elif isinstance(event, OriginateFailed):
            log.info("call %s: agent %s's phone did not take the call (%s)", call.linkedid, call.agent_id,
                     event.reason)
            await self.end(call, at=event.at)

    async def _dial_started(self, call: Call, event: DialStarted) -> None:
        agent_id = self.agent_for_endpoint(event.endpoint)
        if agent_id is None:
            log.warning("call %s dials unknown endpoint %s", call.linkedid, event.endpoint)
            return
        call.phase = CallPhase.RINGING
        call.agent_id = agent_id
        call.agent_channel = event.agent_channel
        call.ringing_at = event.at
        log.info("call %s ringing agent %s", call.linkedid, agent_id)
        if agent_id not in call.ringing_agents:
            call.ringing_agents.append(agent_id)
        if self.desk is not None:  # first: the pop must beat the agent's hand to the phone
            await self._safely(self.desk.offer(agent_id, pop_of(call, agent_id)), "screen pop")
        if self.acd is not None:
            await self._safely(self.acd.agent_ringing(agent_id, call.linkedid), "acd ringing")

    async def _dial_finished(self, call: Call, event: DialFinished) -> None:
        agent_id = self.agent_for_endpoint(event.endpoint)
        if agent_id is not None and event.status != "ANSWER":
            await self._desk_dial_failed(call, agent_id, event.status)
        if agent_id is None or agent_id != call.agent_id:
            return
        if event.status == "ANSWER":
            call.phase = CallPhase.CONNECTED
            call.answered_at = call.answered_at or event.at  # after a transfer: the first answer
            await self._desk_answered(call, agent_id)
            log.info("call %s answered by agent %s after %.0f s in queue", call.linkedid, agent_id, call.wait_seconds)
            if self.acd is not None:
                await self._safely(self.acd.agent_answered(agent_id, call.linkedid), "acd answered")
            return
        if event.status == "CANCEL":
            return  # the caller hung up while it rang: the caller's Hangup handles it
        # NOANSWER, BUSY, CHANUNAVAIL, CONGESTION: ring-no-answer, the caller is back on hold.
        call.phase = CallPhase.QUEUED
        log.warning("call %s: agent %s did not answer (%s), the call waits again", call.linkedid, agent_id, event.status)
        call.rona_agents.append(agent_id)
        call.agent_id = None
        call.agent_channel = None
        if self.acd is not None:
            await self._safely(self.acd.ring_no_answer(agent_id, call.linkedid), "acd rona")

    def _hold_changed(self, call: Call, event: HoldChanged) -> None:
        if call.phase is not CallPhase.CONNECTED:
            return  # music while queued is waiting, not hold
        if event.on_hold and call.hold_started_at is None:
            call.hold_started_at = event.at
        elif not event.on_hold and call.hold_started_at is not None:
            call.hold_seconds += event.at - call.hold_started_at
            call.hold_started_at = None

    async def _hung_up(self, call: Call, event: ChannelHungUp) -> None:
        if event.uniqueid != call.caller_uniqueid:
            return  # the agent's leg; the call ends when the caller's leg does
        if call.ivr_running:
            call.caller_gone_at = event.at
            return
        await self.end(call, at=event.at)

    async def end(self, call: Call, at: float | None = None) -> None:
        if call.phase is CallPhase.ENDED:
            return
        was = call.phase
        call.phase = CallPhase.ENDED
        call.ended_at = at if at is not None else self.clock()
        if call.hold_started_at is not None:
            call.hold_seconds += call.ended_at - call.hold_started_at
            call.hold_started_at = None
        self.calls.pop(call.linkedid, None)
        await self._withdraw_ringing(call, WithdrawReason.CALLER_HUNG_UP)
        if was is CallPhase.CONNECTED:
            await self._desk_ended(call)
        log.info("call %s ended: %s (wait %.0f s, talk %.0f s, hold %.0f s)%s", call.linkedid, call.outcome(),
                 call.wait_seconds, call.talk_seconds, call.hold_seconds,
                 f", after leaving the queue for {call.queue_exit}" if call.queue_exit else "")
        self.ended.append(call)
        del self.ended[: -self._max_ended]
        if self.acd is not None and call.direction == "outbound":
            if call.agent_id:
                await self._safely(self.acd.agent_leg_ended(call.agent_id, call.linkedid,
                                                            wrapup=call.agent_picked_up_at is not None),
                                   "acd outbound ended")
        elif self.acd is not None:
            if was is CallPhase.CONNECTED:
                await self._safely(self.acd.call_ended(call.linkedid), "acd call ended")
            elif was in (CallPhase.QUEUED, CallPhase.RINGING):
                await self._safely(self.acd.caller_abandoned(call.linkedid), "acd abandon")
        await self._safely(self.record_activity(call), "activity write")

    async def resync(self, live_uniqueids: set[str]) -> int:
        """After an AMI reconnect: end every call whose caller channel is gone meanwhile."""
        gone = [c for c in list(self.calls.values()) if c.caller_uniqueid not in live_uniqueids]
        for call in gone:
            log.info("resync: call %s ended while AMI was away", call.linkedid)
            if call.ivr_running:
                call.caller_gone_at = self.clock()  # logged when the AGI handler hands over
            else:
                await self.end(call)
        return len(gone)

    # -- the agents' desks -----------------------------------------------------------------
    async def _desk_answered(self, call: Call, agent_id: str) -> None:
        others = [a for a in call.ringing_agents if a != agent_id]
        call.ringing_agents.clear()
        if self.desk is None:
            return
        await self._safely(self.desk.answered(agent_id, pop_of(call, agent_id)), "desk: answered")
        for other in others:  # a queue that rang them all: the others' pops go
            await self._safely(self.desk.withdrawn(other, pop_of(call, other), WithdrawReason.TAKEN_ELSEWHERE),
                               "desk: taken elsewhere")

    async def _desk_ended(self, call: Call) -> None:
        agent_id = call.agent_id
        if agent_id is None or call.desk_ended_for == agent_id:
            return
        call.desk_ended_for = agent_id
        if self.desk is not None:
            await self._safely(self.desk.ended(agent_id, pop_of(call, agent_id)), "desk: call ended")

    async def _desk_dial_failed(self, call: Call, agent_id: str, status: str) -> None:
        if agent_id not in call.ringing_agents:
            return
        if status == "CANCEL" and call.answered_at is None:
            return  # the caller hung up while it rang (their Hangup withdraws it), or the call moves on
        call.ringing_agents.remove(agent_id)
        reason = WithdrawReason.TAKEN_ELSEWHERE if call.answered_at is not None else WithdrawReason.NO_ANSWER
        if self.desk is not None:
            await self._safely(self.desk.withdrawn(agent_id, pop_of(call, agent_id), reason), "desk: withdrawn")

    async def _withdraw_ringing(self, call: Call, reason: WithdrawReason) -> None:
        ringing, call.ringing_agents = list(call.ringing_agents), []
        if self.desk is None:
            return
        for agent_id in ringing:
            await self._safely(self.desk.withdrawn(agent_id, pop_of(call, agent_id), reason), "desk: withdrawn")

    async def _safely(self, awaitable, what: str) -> None:
        # One failing consumer (DB down, Redis hiccup) must not stop the others.
        try:
            await awaitable
        except Exception:
            log.exception("%s failed", what)


def _who(call: Call) -> str:
    # Caller IDs are hostile input: log the CRM's display-safe form, else a capped repr.
    if call.caller is not None and call.caller.ani.display:
        return call.caller.ani.display
    return repr(call.raw_ani[:40])


def _caller_label(caller: CallerView | None) -> str:
    if caller is None or not caller.known:
        return "unknown caller"
    return f"{caller.name} (customer {caller.customer_id}, {caller.tier or 'no'} tier)"


def pop_of(call: Call, agent_id: str) -> ScreenPop:
    """What `agent_id`'s desk shows of the call now."""
    waited = 0.0
    if call.queued_at is not None and call.ringing_at is not None:
        waited = call.ringing_at - call.queued_at
    last_transfer = call.transfers[-1] if call.transfers else None
    return build_pop(call_id=call.linkedid, caller=call.caller, raw_ani=call.raw_ani, dnis=call.dnis,
                     language=call.route.language if call.route is not None else None, ivr_path=call.ivr_path,
                     ivr_inputs=call.ivr_inputs, queue=call.queue, waited_seconds=waited,
                     ringing_at=call.ringing_at, answered_at=call.answered_at,
                     routing=call.routing if call.routing_agent == agent_id else None,
                     direction=call.direction,
                     # A transferred call: who passed it on, and their note for the next agent (kept as data).
                     transfer=({"from_agent": last_transfer["from_agent"], "note": last_transfer["note"]}
                               if last_transfer else None))
