"""The JSON messages on the `<prefix>:events` pub/sub channel.

Desktops and wallboards read them; every gateway instance reads them to keep its dispatch
index current. Each message is published by the same Lua script that makes the change,
so the order on the channel is the order of the changes in Redis.

    {"type": "agent_state", "instance": "gw1", "agent": {agent_id, state, since, reason, call_id,
                                                        queue, calls_handled, version, ...}}
    {"type": "call_state",  "instance": "gw1", "call": {call_id, queue, state, agent_id, version, ...}}
    {"type": "call_removed", "instance": "gw1", "call_id": "...", "queue": "...", "version": 7,
                             "reason": "abandoned" | "ended" | "voicemail" | "callback" | "connect_failed"}
    {"type": "call_outcome", "instance": "gw1", "call_id": "...", "queue": "...", "outcome": "overflow",
                             "target_queue": "general", "waited_seconds": 300.0}
    {"type": "agent_wakeup", "instance": "cli", "agent_id": "..."}   a change made by a process that
                             does not dispatch: gateway instances match the agent
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.acd.model import QueuedCall, QueueOutcome
from gateway.acd.states import AgentStatus

AGENT_STATE = "agent_state"
CALL_STATE = "call_state"
CALL_REMOVED = "call_removed"
CALL_OUTCOME = "call_outcome"
AGENT_WAKEUP = "agent_wakeup"


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def agent_state_message(status: AgentStatus, instance: str) -> str:
    return _dump({"type": AGENT_STATE, "instance": instance, "agent": status.to_event()})


def call_state_message(call: QueuedCall, instance: str, *, rank_placeholder: bool = False) -> str:
    body = call.to_event()
    if rank_placeholder:
        body["rank_key"] = "__RANK__"  # save.lua fills in the score it used (head of queue)
    return _dump({"type": CALL_STATE, "instance": instance, "call": body})


def call_removed_message(call: QueuedCall, version: int, reason: str, instance: str) -> str:
    return _dump({"type": CALL_REMOVED, "instance": instance, "call_id": call.call_id, "queue": call.queue,
                  "version": version, "reason": reason, "agent_id": call.agent_id})


def call_outcome_message(outcome: QueueOutcome, instance: str) -> str:
    return _dump({"type": CALL_OUTCOME, "instance": instance, "call_id": outcome.call_id, "queue": outcome.queue,
                  "outcome": outcome.kind, "target_queue": outcome.target_queue,
                  "waited_seconds": outcome.waited_seconds})


def agent_wakeup_message(agent_id: str, instance: str) -> str:
    return _dump({"type": AGENT_WAKEUP, "instance": instance, "agent_id": agent_id})


@dataclass(frozen=True)
class Event:
    type: str
    instance: str
    body: dict[str, Any]

    @property
    def agent_status(self) -> AgentStatus:
        return AgentStatus.from_event(self.body["agent"])

    @property
    def call(self) -> QueuedCall:
        return QueuedCall.from_event(self.body["call"])


def parse_event(raw: str | bytes) -> Event | None:
    """None for a message that is not one of ours (the channel may be shared)."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(message, dict) or "type" not in message:
        return None
    return Event(str(message["type"]), str(message.get("instance", "")), message)
