"""Agent and call state in Redis. Reads are plain commands; every write is one Lua script
(reserve.lua for the reservation, save.lua for the rest) that checks versions, writes,
logs and publishes atomically.

Keys (the {acd} hash tag puts them in one slot, so the scripts also run on Redis Cluster):
    <prefix>:{acd}:agent:<id>     hash: the agent's AgentStatus
    <prefix>:{acd}:call:<id>      hash: data (QueuedCall JSON), state, version
    <prefix>:{acd}:queue:<name>   sorted set: waiting call ids scored by rank_key
    <prefix>:{acd}:agents         set: agent ids that have a state
    <prefix>:{acd}:calls          set: live call ids (waiting or in service)
    <prefix>:{acd}:reservations   stream: every reservation and every release of an agent
    <prefix>:{acd}:agent-states   stream: every agent state change, until recorded (state_log.py)
    <prefix>:events               pub/sub channel (see events.py)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

from gateway.acd import events, state_log
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.states import IN_CALL, AgentStatus

RESERVATION_LOG_CAP = 100_000


class AcdKeys:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.base = f"{prefix}:{{acd}}"
        self.channel = f"{prefix}:events"
        self.agents = f"{self.base}:agents"
        self.calls = f"{self.base}:calls"
        self.reservations = f"{self.base}:reservations"
        self.agent_states = f"{self.base}:agent-states"

    def agent(self, agent_id: str) -> str:
        return f"{self.base}:agent:{agent_id}"

    def call(self, call_id: str) -> str:
        return f"{self.base}:call:{call_id}"

    def queue(self, name: str) -> str:
        return f"{self.base}:queue:{name}"

    def pattern(self) -> str:
        return f"{self.base}:*"


@dataclass(frozen=True)
class AgentWrite:
    old: AgentStatus
    new: AgentStatus


@dataclass(frozen=True)
class CallWrite:
    """A call's next record (None: the call is gone) and how its queue membership changes."""

    old: QueuedCall | None  # None: a new call
    new: QueuedCall | None
    removed_reason: str = ""  # for the call_removed event when new is None
    at_head: bool = False  # joins its queue ahead of every waiting call (after RONA)

    @property
    def expected_version(self) -> int:
        return 0 if self.old is None else self.old.version


@dataclass(frozen=True)
class SaveResult:
    ok: bool
    conflict: str = ""  # "agent" / "call"
    rank_key: float | None = None  # the score the call joined its queue with


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _script(name: str) -> str:
    return resources.files("gateway.acd").joinpath("lua", name).read_text(encoding="utf-8")


class AcdStore:
    def __init__(self, redis, prefix: str, instance: str):
        self.redis = redis
        self.keys = AcdKeys(prefix)
        self.instance = instance
        self._reserve = redis.register_script(_script("reserve.lua"))
        self._save = redis.register_script(_script("save.lua"))

    # -- reads --------------------------------------------------------------------------
    async def load_agent(self, agent_id: str) -> AgentStatus:
        return AgentStatus.from_hash(agent_id, await self.redis.hgetall(self.keys.agent(agent_id)))

    async def load_agents(self, agent_ids: Iterable[str]) -> list[AgentStatus]:
        ids = list(agent_ids)
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(self.keys.agent(agent_id))
        return [AgentStatus.from_hash(a, raw) for a, raw in zip(ids, await pipe.execute())]

    async def known_agent_ids(self) -> set[str]:
        return {_text(m) for m in await self.redis.smembers(self.keys.agents)}

    async def load_call(self, call_id: str) -> QueuedCall | None:
        return QueuedCall.from_hash(await self.redis.hgetall(self.keys.call(call_id)))

    async def load_calls(self, call_ids: Iterable[str] | None = None) -> list[QueuedCall]:
        if call_ids is None:
            call_ids = [_text(m) for m in await self.redis.smembers(self.keys.calls)]
        pipe = self.redis.pipeline(transaction=False)
        ids = list(call_ids)
        for call_id in ids:
            pipe.hgetall(self.keys.call(call_id))
        loaded = [QueuedCall.from_hash(raw) for raw in await pipe.execute()]
        return [c for c in loaded if c is not None]

    async def queue_members(self, queue: str) -> list[tuple[str, float]]:
        return [(_text(m), float(s)) for m, s in await self.redis.zrange(self.keys.queue(queue), 0, -1, withscores=True)]

    async def reservation_log(self) -> list[dict[str, str]]:
        """Every reservation/release still in the (capped) log, oldest first."""
        entries = await self.redis.xrange(self.keys.reservations)
        return [{_text(k): _text(v) for k, v in fields.items()} for _, fields in entries]

    # -- writes -------------------------------------------------------------------------
    async def reserve(self, old_agent: AgentStatus, new_agent: AgentStatus, old_call: QueuedCall,
                      new_call: QueuedCall, now: float) -> SaveResult:
        """Book `old_agent` (seen available at its version) for `old_call` (seen waiting)."""
        keys = [self.keys.agent(old_agent.agent_id), self.keys.call(old_call.call_id),
                self.keys.queue(old_call.queue), self.keys.reservations, self.keys.agent_states]
        args = [self.keys.channel, old_agent.agent_id, old_agent.version, old_call.call_id, old_call.version,
                json.dumps(new_agent.to_hash()), new_call.to_hash()["data"], new_call.version, self.instance,
                repr(now), RESERVATION_LOG_CAP, state_log.entry_fields(new_agent, self.instance),
                state_log.STATE_LOG_CAP,
                events.agent_state_message(new_agent, self.instance),
                events.call_state_message(new_call, self.instance)]
        reply = await self._reserve(keys=keys, args=args)
        if int(reply[0]) == 1:
            return SaveResult(True)
        return SaveResult(False, _text(reply[1]))

    async def save(self, agent: AgentWrite | None = None, call: CallWrite | None = None,
                   extra_messages: Iterable[str] = ()) -> SaveResult:
        """Write an agent's new status and/or a call's new record if neither changed meanwhile."""
        k = self.keys
        call_any = call.new or call.old if call is not None else None
        leave = k.queue(call.old.queue) if call is not None and call.old is not None else k.queue("-")
        joins = call is not None and call.new is not None and call.new.state is CallState.WAITING
        join = k.queue(call.new.queue) if joins else k.queue("-")
        keys = [k.agent(agent.old.agent_id) if agent else k.agent("-"),
                k.call(call_any.call_id) if call_any else k.call("-"),
                leave, join, k.reservations, k.agents, k.calls, k.agent_states]
        messages: list[str] = []
        args: list = [k.channel, RESERVATION_LOG_CAP]
        if agent is not None:
            args += [agent.old.agent_id, agent.old.version, json.dumps(agent.new.to_hash())]
            messages.append(events.agent_state_message(agent.new, self.instance))
        else:
            args += ["", 0, "{}"]
        if call is not None:
            new = call.new
            if new is None:
                version = call.expected_version + 1
                args += [call_any.call_id, call.expected_version, "delete", "", version, "", "", "0"]
                messages.append(events.call_removed_message(call_any, version, call.removed_reason, self.instance))
            else:
                data = new.to_event()
                if joins:
                    data["rank_key"] = "__RANK__"
                args += [new.call_id, call.expected_version, "put", json.dumps(data, separators=(",", ":")),
                         new.version, new.state.value, repr(new.rank_key) if joins else "",
                         "1" if call.at_head else "0"]
                messages.append(events.call_state_message(new, self.instance, rank_placeholder=joins))
        else:
            args += ["", 0, "put", "", 0, "", "", "0"]
        args.append(json.dumps(self._log_entry(agent)) if self._frees(agent) else "")
        changed = agent is not None and state_log.starts_period(agent.old, agent.new)
        args += [state_log.entry_fields(agent.new, self.instance) if changed else "", state_log.STATE_LOG_CAP]
        reply = await self._save(keys=keys, args=args + messages + list(extra_messages))
        if int(reply[0]) != 1:
            return SaveResult(False, _text(reply[1]))
        score = _text(reply[1])
        return SaveResult(True, rank_key=float(score) if score else None)

    async def state_changes(self) -> list[state_log.StateChange]:
        """Every agent state change still in the (capped) stream, oldest first."""
        entries = await self.redis.xrange(self.keys.agent_states)
        return [c for c in (state_log.parse_entry(i, f) for i, f in entries) if c is not None]

    async def publish(self, message: str) -> None:
        await self.redis.publish(self.keys.channel, message)

    @staticmethod
    def _frees(agent: AgentWrite | None) -> bool:
        # The reservation log records each booking and the end of each booking, so a reader
        # can check that no agent was ever booked twice at once.
        return agent is not None and agent.old.state in IN_CALL and agent.new.state not in IN_CALL

    def _log_entry(self, agent: AgentWrite) -> dict[str, str]:
        return {"op": "free", "agent": agent.old.agent_id, "call": agent.old.call_id,
                "agent_version": str(agent.new.version), "instance": self.instance,
                "at": repr(agent.new.since), "state": agent.new.state.value}

    async def delete_everything(self) -> None:
        """For tests and `ctigw acd reset`: remove every ACD key under this prefix."""
        async for key in self.redis.scan_iter(match=self.keys.pattern(), count=1000):
            await self.redis.delete(key)
