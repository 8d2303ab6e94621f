"""What each report from the call layer changes, as pure decisions.

Each function returns a `decide(call, agent, now) -> Change | None` for StateWriter.settle:
given the call and agent as Redis has them, the writes to make (None: nothing applies, e.g.
a replayed or out-of-date report). Reports about a call that was not offered to that agent
change nothing.
"""
from __future__ import annotations

from typing import Callable

from gateway.acd import states
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.states import AgentStatus
from gateway.acd.store import AgentWrite, CallWrite
from gateway.acd.transactions import Change, Decide

OFFERED = (CallState.RESERVED, CallState.RINGING)


def _agent_write(old: AgentStatus | None, new: AgentStatus | None) -> AgentWrite | None:
    return AgentWrite(old, new) if old is not None and new is not None and new is not old else None


def _offered_to(call: QueuedCall | None, agent_id: str, phases=OFFERED) -> bool:
    return call is not None and call.agent_id == agent_id and call.state in phases


def ringing(agent_id: str, call_id: str) -> Decide:
    def decide(call, agent, now):
        new_agent = states.ringing(agent, now, call_id) if agent is not None else None
        call_write = (CallWrite(call, call.advanced(state=CallState.RINGING))
                      if _offered_to(call, agent_id, (CallState.RESERVED,)) else None)
        agent_write = _agent_write(agent, new_agent)
        return Change(agent_write, call_write) if agent_write or call_write else None
    return decide


def answered(agent_id: str, call_id: str) -> Decide:
    def decide(call, agent, now):
        new_agent = states.answered(agent, now, call_id) if agent is not None else None
        call_write = CallWrite(call, call.advanced(state=CallState.CONNECTED)) if _offered_to(call, agent_id) else None
        agent_write = _agent_write(agent, new_agent)
        return Change(agent_write, call_write) if agent_write or call_write else None
    return decide


def ring_no_answer(agent_id: str, call_id: str) -> Decide:
    """The agent goes not ready ("RONA"); the call goes back to the head of its queue."""
    def decide(call, agent, now):
        new_agent = states.ring_no_answer(agent, now, call_id) if agent is not None else None
        call_write = None
        if _offered_to(call, agent_id):
            back = call.advanced(state=CallState.WAITING, agent_id=None, match=None,
                                 rona_agents=(*call.rona_agents, agent_id))
            call_write = CallWrite(call, back, at_head=True)
        agent_write = _agent_write(agent, new_agent)
        return Change(agent_write, call_write) if agent_write or call_write else None
    return decide


def call_over(wrapup_for: Callable[[str], float]) -> Decide:
    """The caller's side is gone: after an answer the agent wraps up (the queue's wrap-up time);
    before it (waiting, reserved, ringing) the caller abandoned and any agent is free at once.
    Either way the call leaves no trace."""
    def decide(call, agent, now):
        if call is None:
            return None
        if call.state is CallState.CONNECTED:
            new_agent = states.call_ended(agent, now, call.call_id, wrapup_for(call.queue)) if agent else None
            reason = "ended"
        else:
            new_agent = states.release(agent, now, call.call_id) if agent else None
            reason = "abandoned"
        return Change(_agent_write(agent, new_agent), CallWrite(call, None, removed_reason=reason))
    return decide


def connect_failed(agent_id: str, max_failures: int, retry_delay: Callable[[int], float]) -> Decide:
    """The call layer could not put the call through: the agent is free again; the call goes
    back to the head of its queue, not to be offered again for `retry_delay(failures)` seconds,
    or leaves it after `max_failures` attempts."""
    def decide(call, agent, now):
        if not _offered_to(call, agent_id, (CallState.RESERVED,)):
            return None
        agent_write = _agent_write(agent, states.release(agent, now, call.call_id) if agent else None)
        failures = call.connect_failures + 1
        if failures >= max_failures:
            return Change(agent_write, CallWrite(call, None, removed_reason="connect_failed"))
        retry = call.advanced(state=CallState.WAITING, agent_id=None, match=None, connect_failures=failures,
                              retry_at=now + retry_delay(failures))
        return Change(agent_write, CallWrite(call, retry, at_head=True))
    return decide


def transferred(from_agent: str, queue: str, skills: tuple[str, ...], language: str | None,
                required_agent: str | None, wrapup_for: Callable[[str], float]) -> Decide:
    """The agent talking to the caller passes them on: the agent wraps up as after any call;
    the call waits again, in `queue` with its skills (or for `required_agent` alone), keeping
    its customer facts, its priority and its place by rank, its relax clock started anew."""
    def decide(call, agent, now):
        if not _offered_to(call, from_agent, (CallState.CONNECTED,)) or agent is None:
            return None
        if agent.state is not states.AgentState.ON_CALL or agent.call_id != call.call_id:
            return None
        new_agent = states.leg_ended(agent, now, call.call_id, wrapup_for(call.queue))
        moved = call.advanced(state=CallState.WAITING, agent_id=None, queue=queue, skills=skills,
                              language=language, queue_entered_at=now, rona_agents=(), connect_failures=0,
                              retry_at=0.0, required_agent=required_agent, transferred_from=from_agent)
        return Change(_agent_write(agent, new_agent), CallWrite(call, moved))
    return decide
