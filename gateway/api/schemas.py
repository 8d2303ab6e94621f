"""The REST API's wire format (pydantic): request bodies are strict (no type coercion, no
unknown fields) and every error is `{"error": "..."}`."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_REASON_LENGTH = 32
AgentStateName = Literal["logged_out", "available", "reserved", "ringing", "on_call", "wrap_up", "not_ready"]


class Error(BaseModel):
    error: str


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ready: bool = True


class NotReadyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH, examples=["break", "lunch", "meeting"])

    @field_validator("reason", mode="before")
    @classmethod
    def _printable(cls, value):
        if isinstance(value, str):
            value = value.strip()
            if value and not value.isprintable():
                raise ValueError(f"must be 1-{MAX_REASON_LENGTH} printable characters")
        return value


class EmptyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AgentStatus(BaseModel):
    agent_id: str
    state: AgentStateName
    since: float = Field(description="Unix time the state began")
    reason: str = Field(description="not-ready reason ('' when none)")
    call_id: str = Field(description="the call offered or handled; in wrap-up, the call just ended")
    queue: str
    calls_handled: int
    pending: str = Field(description="'logout' or 'not_ready:<reason>' after the call ('' when none)")
    wrapup_until: float
    version: int = Field(description="higher is newer: orders this against the state events of the same agent")

    @classmethod
    def of(cls, status) -> "AgentStatus":
        return cls(agent_id=status.agent_id, state=status.state.value, since=status.since, reason=status.reason,
                   call_id=status.call_id, queue=status.queue, calls_handled=status.calls_handled,
                   pending=status.pending, wrapup_until=status.wrapup_until, version=status.version)


class WaitingCall(BaseModel):
    call_id: str
    position: int
    waited_seconds: float
    effective_priority: float
    language: str | None = None
    skills: list[str] = []
    customer_tier: str | None = None


class QueueSnapshot(BaseModel):
    queue: str
    at: float
    waiting: list[WaitingCall]
    longest_wait_seconds: float
    agents_by_state: dict[str, int]
