"""Agent states and the rules for moving between them, as pure functions.

    logged_out ─login─▶ available ◀─ready── not_ready ◀─not_ready(reason)─ available
    available ─(reservation, Lua)─▶ reserved ─ringing─▶ ringing ─answered─▶ on_call
    reserved/ringing ─ring_no_answer─▶ not_ready "RONA"     reserved/ringing ─release─▶ available
    on_call ─call_ended─▶ wrap_up ─(timer or end_wrapup)─▶ available
    available/not_ready ─dialling_out─▶ on_call (an outbound call; no inbound offers meanwhile)
    on_call ─leg_ended (outbound over, or the agent transferred the call)─▶ wrap_up

An agent is in exactly one state across every queue (app_queue's per-queue wrap-up is a
known fault). A control that arrives while a call is in progress (not_ready, logout) is
kept as `pending` and applied once the call and its wrap-up are done.

Every transition returns a new AgentStatus with `version` one higher; the Redis store
writes it only if the stored version is still the old one. A transition that does not
apply returns the status unchanged (the caller then writes nothing).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any, Mapping

from gateway.acd.errors import AgentStateError

RONA_REASON = "RONA"
LOGIN_REASON = "login"
PENDING_LOGOUT = "logout"
PENDING_NOT_READY = "not_ready:"


class AgentState(str, enum.Enum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


IN_CALL = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL})
OFFERED = frozenset({AgentState.RESERVED, AgentState.RINGING})


@dataclass(frozen=True)
class AgentStatus:
    agent_id: str
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # when the agent entered `state`
    reason: str = ""  # not_ready reason code
    call_id: str = ""  # the call being offered/handled; in wrap_up, the call just ended
    queue: str = ""
    calls_handled: int = 0
    version: int = 0  # 0: never stored
    wrapup_until: float = 0.0
    pending: str = ""  # "logout" or "not_ready:<reason>", applied after the call

    @property
    def logged_in(self) -> bool:
        return self.state is not AgentState.LOGGED_OUT

    # -- storage -----------------------------------------------------------------------------
    def to_hash(self) -> dict[str, str]:
        return {"agent_id": self.agent_id, "state": self.state.value, "since": repr(self.since),
                "reason": self.reason, "call_id": self.call_id, "queue": self.queue,
                "calls_handled": str(self.calls_handled), "version": str(self.version),
                "wrapup_until": repr(self.wrapup_until), "pending": self.pending}

    @classmethod
    def from_hash(cls, agent_id: str, raw: Mapping) -> "AgentStatus":
        if not raw:
            return cls(agent_id)
        raw = {_text(k): _text(v) for k, v in raw.items()}
        return cls(agent_id=agent_id, state=AgentState(raw.get("state", "logged_out")),
                   since=float(raw.get("since") or 0), reason=raw.get("reason", ""),
                   call_id=raw.get("call_id", ""), queue=raw.get("queue", ""),
                   calls_handled=int(raw.get("calls_handled") or 0), version=int(raw.get("version") or 0),
                   wrapup_until=float(raw.get("wrapup_until") or 0), pending=raw.get("pending", ""))

    def to_event(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "state": self.state.value, "since": self.since, "reason": self.reason,
                "call_id": self.call_id, "queue": self.queue, "calls_handled": self.calls_handled,
                "version": self.version, "wrapup_until": self.wrapup_until, "pending": self.pending}

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> "AgentStatus":
        return cls(agent_id=str(data["agent_id"]), state=AgentState(data["state"]), since=float(data["since"]),
                   reason=data.get("reason", ""), call_id=data.get("call_id", ""), queue=data.get("queue", ""),
                   calls_handled=int(data.get("calls_handled", 0)), version=int(data["version"]),
                   wrapup_until=float(data.get("wrapup_until", 0)), pending=data.get("pending", ""))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _enter(status: AgentStatus, state: AgentState, now: float, **fields) -> AgentStatus:
    """The status after entering `state`: call fields cleared unless given, version bumped."""
    base = dict(reason="", call_id="", queue="", wrapup_until=0.0)
    base.update(fields)
    return replace(status, state=state, since=now, version=status.version + 1, **base)


def _after_call(status: AgentStatus, now: float) -> AgentStatus:
    """Where an agent goes when a call (and its wrap-up) is over: available, or what they asked for."""
    pending = status.pending
    if pending == PENDING_LOGOUT:
        return _enter(status, AgentState.LOGGED_OUT, now, pending="")
    if pending.startswith(PENDING_NOT_READY):
        return _enter(status, AgentState.NOT_READY, now, reason=pending[len(PENDING_NOT_READY):], pending="")
    return _enter(status, AgentState.AVAILABLE, now, pending="")


def _with_pending(status: AgentStatus, pending: str) -> AgentStatus:
    if status.pending == pending:
        return status
    return replace(status, pending=pending, version=status.version + 1)


# -- agent controls (raise AgentStateError when the control makes no sense now) -------------

def login(status: AgentStatus, now: float, *, ready: bool = True) -> AgentStatus:
    if status.logged_in:
        return status
    if ready:
        return _enter(status, AgentState.AVAILABLE, now, pending="")
    return _enter(status, AgentState.NOT_READY, now, reason=LOGIN_REASON, pending="")


def logout(status: AgentStatus, now: float) -> AgentStatus:
    if not status.logged_in:
        return status
    if status.state in IN_CALL:
        return _with_pending(status, PENDING_LOGOUT)
    return _enter(status, AgentState.LOGGED_OUT, now, pending="")


def ready(status: AgentStatus, now: float) -> AgentStatus:
    if not status.logged_in:
        raise AgentStateError(f"agent {status.agent_id} is logged out; log in first")
    if status.state in IN_CALL:
        return _with_pending(status, "")  # cancels a pending not_ready/logout
    if status.state is AgentState.AVAILABLE:
        return status
    return _enter(status, AgentState.AVAILABLE, now, pending="")  # from not_ready or wrap_up


def not_ready(status: AgentStatus, now: float, reason: str) -> AgentStatus:
    reason = (reason or "").strip() or "break"
    if not status.logged_in:
        raise AgentStateError(f"agent {status.agent_id} is logged out; log in first")
    if status.state in IN_CALL:
        return _with_pending(status, PENDING_NOT_READY + reason)
    if status.state is AgentState.NOT_READY and status.reason == reason:
        return status
    return _enter(status, AgentState.NOT_READY, now, reason=reason, pending="")


def end_wrapup(status: AgentStatus, now: float) -> AgentStatus:
    """The agent finished wrap-up early. A no-op outside wrap-up (the timer may have won)."""
    if status.state is not AgentState.WRAP_UP:
        return status
    return _after_call(status, now)


# -- timers ------------------------------------------------------------------------------

def expire_wrapup(status: AgentStatus, now: float) -> AgentStatus:
    if status.state is AgentState.WRAP_UP and now >= status.wrapup_until:
        return _after_call(status, now)
    return status


# -- call events (a mismatched or replayed event leaves the status unchanged) ------------

def reserve(status: AgentStatus, now: float, call_id: str, queue: str) -> AgentStatus:
    """What the reservation Lua script does in Redis (kept equal by a test)."""
    if status.state is not AgentState.AVAILABLE:
        raise AgentStateError(f"agent {status.agent_id} is {status.state.value}, not available")
    return _enter(status, AgentState.RESERVED, now, call_id=call_id, queue=queue, pending=status.pending)


def ringing(status: AgentStatus, now: float, call_id: str) -> AgentStatus:
    if status.state is AgentState.RESERVED and status.call_id == call_id:
        return _enter(status, AgentState.RINGING, now, call_id=call_id, queue=status.queue)
    return status


def answered(status: AgentStatus, now: float, call_id: str) -> AgentStatus:
    if status.state in OFFERED and status.call_id == call_id:
        return _enter(status, AgentState.ON_CALL, now, call_id=call_id, queue=status.queue)
    return status


def ring_no_answer(status: AgentStatus, now: float, call_id: str) -> AgentStatus:
    if status.state in OFFERED and status.call_id == call_id:
        if status.pending == PENDING_LOGOUT:
            return _enter(status, AgentState.LOGGED_OUT, now, pending="")
        return _enter(status, AgentState.NOT_READY, now, reason=RONA_REASON, pending="")
    return status


def release(status: AgentStatus, now: float, call_id: str) -> AgentStatus:
    """The offered call went away (caller hung up, connect failed): the agent is free again."""
    if status.state in OFFERED and status.call_id == call_id:
        return _after_call(status, now)
    return status


def call_ended(status: AgentStatus, now: float, call_id: str, wrapup_seconds: float) -> AgentStatus:
    if status.state is not AgentState.ON_CALL or status.call_id != call_id:
        return status
    handled = replace(status, calls_handled=status.calls_handled + 1)
    if wrapup_seconds <= 0:
        return _after_call(handled, now)
    return _enter(handled, AgentState.WRAP_UP, now, call_id=call_id, queue=status.queue,
                  wrapup_until=now + wrapup_seconds)


# -- the agent's own calls: click-to-dial, and leaving a call by transferring it -----------

def dialling_out(status: AgentStatus, now: float, call_id: str) -> AgentStatus:
    """The agent places an outbound call: on a call at once, so the ACD offers them nothing.
    An agent who was not ready returns to not ready afterwards (kept as `pending`)."""
    if status.state is AgentState.AVAILABLE:
        return _enter(status, AgentState.ON_CALL, now, call_id=call_id, pending=status.pending)
    if status.state is AgentState.NOT_READY:
        return _enter(status, AgentState.ON_CALL, now, call_id=call_id, pending=PENDING_NOT_READY + status.reason)
    if not status.logged_in:
        raise AgentStateError(f"agent {status.agent_id} is logged out; log in first")
    raise AgentStateError(f"agent {status.agent_id} is {status.state.value}; finish that first")


def leg_ended(status: AgentStatus, now: float, call_id: str, wrapup_seconds: float) -> AgentStatus:
    """The agent's part of `call_id` is over (their outbound call ended, or they transferred
    the caller on): wrap-up, and the call counts as handled. The caller's call may go on."""
    return call_ended(status, now, call_id, wrapup_seconds)
