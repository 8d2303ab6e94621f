"""The FastAGI handler for every inbound call: identify, run the IVR, queue or finish.

Asterisk runs `AGI(agi://gateway/inbound?dnis=...)`. The handler looks the caller up in the
CRM, runs the IVR flow for the dialled number, and leaves its verdict in channel variables
the dialplan acts on when the AGI returns: CTIGW_NEXT=queue (hold context, the ACD takes it
from there) or hangup. It knows sessions and flows, not sockets or SQL.
"""
from __future__ import annotations

import logging

from gateway.acd.model import CustomerFacts
from gateway.agi.errors import AgiHangup
from gateway.calls.adoption import CallCards
from gateway.calls.agi_channel import AgiChannel
from gateway.calls.hold import OWNER_VARIABLE, owner_token
from gateway.calls.ports import AcdPort, CrmPort
from gateway.calls.tracker import CallTracker
from gateway.crm.views import CallerView
from gateway.ivr.channel import SelfServices
from gateway.ivr.engine import run_flow
from gateway.ivr.registry import FlowRegistry

log = logging.getLogger(__name__)


class InboundCallHandler:
    def __init__(self, *, tracker: CallTracker, crm: CrmPort, flows: FlowRegistry, services: SelfServices, acd: AcdPort,
                 flow_for_dnis, instance: str, cards: CallCards, clock=None):
        self.tracker = tracker
        self.crm = crm
        self.flows = flows
        self.services = services
        self.acd = acd
        self.flow_for_dnis = flow_for_dnis
        self.instance = instance  # this gateway: the owner of the calls it queues
        self.cards = cards  # what a restarted gateway needs to adopt the caller (adoption.py)
        self.clock = clock  # the IVR's wall clock (business hours); None: real time

    async def __call__(self, session) -> None:
        env = session.env
        dnis = session.request.query.get("dnis") or env.extension
        linkedid = await session.get_full_variable("${CHANNEL(linkedid)}") or env.uniqueid
        caller = await self.crm.lookup(env.callerid)
        call = self.tracker.begin(linkedid=linkedid, uniqueid=env.uniqueid, channel=env.channel,
                                  raw_ani=env.callerid, dnis=dnis, caller=caller)
        try:
            await self._run_ivr(session, call, caller, dnis)
        finally:
            await self.tracker.ivr_finished(call)

    async def _run_ivr(self, session, call, caller, dnis) -> None:
        flow = self.flows.get(session.request.query.get("flow") or self.flow_for_dnis(dnis))
        result = await run_flow(flow, AgiChannel(session), caller, self.services, now=self.clock, path=call.ivr_path)
        call.ivr_inputs = dict(result.inputs)
        call.ivr_outcome = result.outcome
        call.route = result.route
        if result.outcome != "route" or result.route is None:
            await self._finish(session, result.outcome)
            return
        try:
            # The owner first: the hold context reads it to check this gateway is alive.
            await session.set_variable(OWNER_VARIABLE, owner_token(self.instance))
        except AgiHangup:
            return  # the caller left as the IVR ended; the Hangup event logs the call
        self.tracker.queued(call, result.route.queue)
        try:
            await self.cards.save(call)  # first: a queued call always has its card
            await self.acd.enqueue(call.linkedid, call.caller_channel, result.route, customer_facts(caller))
        except Exception:
            # Not queued: no verdict, so the dialplan's safety net takes the caller. Saying
            # "queue" now would park them where nobody is looking for them.
            log.exception("call %s could not be queued in %s; the caller goes to the fallback queue",
                          call.linkedid, result.route.queue)
            call.queue_exit = "fallback"
            return
        try:
            await session.set_variable("CTIGW_NEXT", "queue")
            await session.set_variable("CTIGW_RESULT", f"queue:{result.route.queue}")
        except AgiHangup:
            pass  # the caller left, or the ACD already moved them to an agent (a Redirect ends the AGI)

    async def _finish(self, session, outcome: str) -> None:
        try:
            await session.set_variable("CTIGW_NEXT", "hangup")
            await session.set_variable("CTIGW_RESULT", outcome)
        except AgiHangup:
            pass


def customer_facts(caller: CallerView) -> CustomerFacts:
    """What the ACD weighs about the caller (tier points, last-agent affinity)."""
    return CustomerFacts(
        customer_id=None if caller.customer_id is None else str(caller.customer_id),
        tier=caller.tier,
        last_agent_id=caller.last_agent_id,
        repeat_caller=caller.repeat_caller,
        has_open_case=bool(caller.open_cases),
    )
