"""Turns a decision into a booking: pick from the index, reserve in Redis, hand to the connector.

The only round trip on the decision path is the reservation script. A lost race (another
instance or coroutine booked the agent or the call first) refreshes what the index got
wrong from Redis and decides again.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from gateway.acd import states
from gateway.acd.index import DispatchIndex
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.reasons import MatchReason
from gateway.acd.roster import Agent
from gateway.acd.store import AcdStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # per decision; each failed attempt has corrected the index


class Dispatcher:
    def __init__(self, index: DispatchIndex, store: AcdStore, clock: Callable[[], float],
                 on_booked: Callable[[QueuedCall, Agent], Awaitable[None]]):
        self.index = index
        self.store = store
        self.clock = clock
        self.on_booked = on_booked  # connects the call (or leaves it to the call's owner instance)
        self.lost_races = 0

    async def place_call(self, call_id: str) -> Agent | None:
        """A call waits: book the best available agent for it, if there is one."""
        for _ in range(MAX_ATTEMPTS):
            call = self.index.calls.get(call_id)
            if call is None or call_id in self.index.held_calls:
                return None
            now = self.clock()
            chosen = self.index.choose_agent_for(call, now)
            if chosen is None:
                return None
            agent, reason = chosen
            booked = await self.book(agent, call, now, reason)
            if booked is not None:
                await self.on_booked(booked, agent)
                return agent
        return None

    async def serve_agent(self, agent_id: str) -> QueuedCall | None:
        """An agent is free: book the call they should take, if any waits."""
        agent = self.index.roster.agent(agent_id)
        if agent is None:
            return None
        for _ in range(MAX_ATTEMPTS):
            if not self.index.is_offerable(agent_id):
                return None
            now = self.clock()
            call = self.index.best_call_for(agent_id, now)
            if call is None:
                return None
            booked = await self.book(agent, call, now, self.index.explain_call_for(agent, call, now))
            if booked is not None:
                await self.on_booked(booked, agent)
                return booked
        return None

    async def book(self, agent: Agent, call: QueuedCall, now: float,
                   reason: MatchReason | None = None) -> QueuedCall | None:
        """Reserve `agent` for `call` atomically; the booked call (carrying `reason`, why this
        agent), or None after a lost race."""
        index = self.index
        status = index.status(agent.id)
        index.hold_agent(agent.id)
        index.hold_call(call.call_id)
        try:
            new_status = states.reserve(status, now, call.call_id, call.queue)
            new_call = call.advanced(state=CallState.RESERVED, agent_id=agent.id, match=reason)
            result = await self.store.reserve(status, new_status, call, new_call, now)
            if result.ok:
                index.apply_agent(new_status)
                index.apply_call(new_call, now)
                return new_call
            self.lost_races += 1
            log.debug("reservation of %s for %s lost (%s changed); re-matching", agent.id, call.call_id,
                      result.conflict)
            await self._refresh(agent.id, call, now)
            return None
        finally:
            index.unhold_agent(agent.id)
            index.unhold_call(call.call_id)

    async def _refresh(self, agent_id: str, call: QueuedCall, now: float) -> None:
        # Both, whatever the script blamed: the index was wrong about at least one of them.
        self.index.apply_agent(await self.store.load_agent(agent_id), force=True)
        fresh = await self.store.load_call(call.call_id)
        if fresh is None:
            self.index.remove_call(call.call_id, call.version + 1, now)
        else:
            self.index.apply_call(fresh, now, force=True)
