"""Optimistic read-decide-write: read the agent and/or call from Redis, let a pure rule
decide, write with save.lua (which refuses if either changed meanwhile), and again on a
conflict. The dispatch index takes in every write that succeeded.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from gateway.acd.errors import AcdError, UnknownAgent
from gateway.acd.index import DispatchIndex
from gateway.acd.model import QueuedCall
from gateway.acd.states import AgentState, AgentStatus
from gateway.acd.store import AcdStore, AgentWrite, CallWrite

MAX_RETRIES = 20  # each retry re-reads what another writer changed


@dataclass(frozen=True)
class Change:
    """What one decision writes."""

    agent: AgentWrite | None = None
    call: CallWrite | None = None
    extra_messages: tuple[str, ...] = ()

    @property
    def freed_agent(self) -> AgentStatus | None:
        """The agent's new status, if this change left them available."""
        if self.agent is not None and self.agent.new.state is AgentState.AVAILABLE:
            return self.agent.new
        return None


# decide(call or None, agent status or None, now) -> Change or None (nothing to do)
Decide = Callable[[QueuedCall | None, AgentStatus | None, float], Change | None]


class StateWriter:
    def __init__(self, store: AcdStore, index: DispatchIndex, clock: Callable[[], float]):
        self.store = store
        self.index = index
        self.clock = clock

    async def change_agent(self, agent_id: str, transition, now: float | None = None
                           ) -> tuple[AgentStatus, AgentStatus]:
        """Apply `transition(status, now)` to the agent; (old, new), new is old when nothing changed."""
        for _ in range(MAX_RETRIES):
            old = await self.store.load_agent(agent_id)
            if old.version == 0 and self.index.roster.agent(agent_id) is None:
                raise UnknownAgent(agent_id)
            new = transition(old, self.clock() if now is None else now)
            if new is old:
                self.index.apply_agent(old)
                return old, old
            if (await self.store.save(AgentWrite(old, new))).ok:
                self.index.apply_agent(new)
                return old, new
        raise AcdError(f"agent {agent_id}: state kept changing under us; gave up")

    async def settle(self, call_id: str, decide: Decide, *, agent_id: str | None = None) -> Change | None:
        """Read the call and its agent (the call's, unless `agent_id` names one), decide, write."""
        for _ in range(MAX_RETRIES):
            call = await self.store.load_call(call_id)
            who = agent_id or (call.agent_id if call is not None else None)
            agent = await self.store.load_agent(who) if who else None
            now = self.clock()
            change = decide(call, agent, now)
            if change is None:
                return None
            if await self.commit(change, now) is not None:
                return change
        raise AcdError(f"call {call_id}: state kept changing under us; gave up")

    async def commit(self, change: Change, now: float) -> Change | None:
        """Write one decision; None if something it read has changed since."""
        result = await self.store.save(change.agent, change.call, change.extra_messages)
        if not result.ok:
            return None
        if change.agent is not None:
            self.index.apply_agent(change.agent.new)
        if change.call is not None:
            new = change.call.new
            if new is None:
                self.index.remove_call(change.call.old.call_id, change.call.expected_version + 1, now)
            else:
                if result.rank_key is not None and result.rank_key != new.rank_key:
                    new = replace(new, rank_key=result.rank_key)  # joined at the head of its queue
                self.index.apply_call(new, now)
        return change
