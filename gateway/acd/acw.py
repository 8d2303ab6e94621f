"""After-call work rules on top of the agent states: who may end a wrap-up, and how.

A queue's wrap-up is optional (the agent ends it when they like) or mandatory (it ends only
when the agent saves a disposition, or when its time runs out: then the queue's timeout
disposition is recorded for the call). The rules read the agent's status inside the ACD's
optimistic transaction, so a wrap-up the timer ended a moment ago is never ended twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gateway.acd import states
from gateway.acd.errors import AgentStateError
from gateway.acd.queue_config import AfterCallWork
from gateway.acd.states import AgentState, AgentStatus


@dataclass(frozen=True)
class WrapupTimedOut:
    """A mandatory wrap-up ran out of time without a disposition: record `disposition` for the call."""

    agent_id: str
    call_id: str
    queue: str
    disposition: str


def agent_ends_wrapup(acw_for: Callable[[str], AfterCallWork]):
    """The agent's own "end wrap-up": refused while the queue's wrap-up is mandatory."""

    def transition(status: AgentStatus, now: float) -> AgentStatus:
        if status.state is AgentState.WRAP_UP and acw_for(status.queue).mandatory:
            raise AgentStateError(f"agent {status.agent_id}: wrap-up in queue {status.queue} is mandatory; "
                                  f"it ends when a disposition is saved")
        return states.end_wrapup(status, now)

    return transition


def disposition_saved(call_id: str):
    """The agent saved the wrap-up of `call_id`: their wrap-up of that call is over, in either mode."""

    def transition(status: AgentStatus, now: float) -> AgentStatus:
        if status.state is AgentState.WRAP_UP and status.call_id == call_id:
            return states.end_wrapup(status, now)
        return status

    return transition


def timed_out(before: AgentStatus, acw: AfterCallWork) -> WrapupTimedOut | None:
    """What the end of this wrap-up by its timer means for the call's record, if anything."""
    if not acw.mandatory or acw.timeout_disposition is None or not before.call_id:
        return None
    return WrapupTimedOut(before.agent_id, before.call_id, before.queue, acw.timeout_disposition)
