"""Every agent state change, kept until it is written down for good.

The Lua scripts that change an agent's state (save.lua, reserve.lua) also append the change
to a capped Redis stream, `<prefix>:{acd}:agent-states`, in the same atomic step: a change
cannot happen without its entry, even when no gateway is reading at that moment (unlike the
events channel, which drops what nobody hears). `StateRecorder` (one in every gateway
instance) reads the stream through one consumer group and hands batches to a sink (the
CRM's agent state history); an entry is acknowledged only once the sink has committed it, so
entries wait in Redis while the database is away, and an instance's unacknowledged entries
are claimed by another one (XAUTOCLAIM) when it dies. The sink writes each entry once
whatever the number of deliveries (the entry's stream id is unique there).

The time of a change is the agent status's own `since` (the ACD's clock that decided it,
which the desk and the board show as "time in state" and which call records use too); the
order of an agent's changes is the stream's order, which is the order Redis applied them in.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Protocol, Sequence

from redis.exceptions import ResponseError

from gateway.acd.background import BackgroundLoop
from gateway.acd.states import AgentStatus

log = logging.getLogger(__name__)

# Entries normally live for a moment (acknowledged once written); the cap only bounds an
# outage of the CRM: about 64 bytes an entry measured on Redis 7, so at most ~35 MB, days of
# a large centre's changes. Beyond that the oldest unwritten changes are lost (logged).
STATE_LOG_CAP = 500_000
GROUP = "state-history"
FIELD_LIMIT = 64  # the history's columns for ids, reasons and queues


@dataclass(frozen=True)
class StateChange:
    """One entry of the stream: the agent entered `state` at `at` (epoch seconds)."""

    entry_id: str  # the stream id, "<ms>-<seq>": unique, and ordered as Redis applied the changes
    agent_id: str
    state: str
    at: float
    reason: str = ""
    queue: str = ""
    call_id: str = ""
    instance: str = ""

    @property
    def sort_key(self) -> str:
        return sortable_id(self.entry_id)


def sortable_id(entry_id: str) -> str:
    """A stream id as text that sorts like the ids do ("9-0" < "10-0"), for the database."""
    ms, _, seq = entry_id.partition("-")
    return f"{int(ms):015d}-{int(seq or 0):010d}"


def starts_period(old: AgentStatus, new: AgentStatus) -> bool:
    """Whether old -> new is a state change worth a history entry (not only a pending control,
    a counter or the version moving)."""
    return (old.state, old.since, old.reason, old.call_id, old.queue) != \
        (new.state, new.since, new.reason, new.call_id, new.queue)


def entry_fields(status: AgentStatus, instance: str) -> str:
    """The stream entry for entering `status`, as the JSON object the Lua scripts append."""
    return json.dumps({"agent": status.agent_id[:FIELD_LIMIT], "state": status.state.value, "at": repr(status.since),
                       "reason": status.reason[:FIELD_LIMIT], "queue": status.queue[:FIELD_LIMIT],
                       "call": status.call_id[:FIELD_LIMIT], "instance": instance[:FIELD_LIMIT]},
                      separators=(",", ":"), ensure_ascii=False)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_entry(entry_id, fields) -> StateChange | None:
    """The change an entry records; None for an entry trimmed away or not one of ours."""
    if not fields:
        return None
    raw = {_text(k): _text(v) for k, v in fields.items()}
    try:
        return StateChange(entry_id=_text(entry_id), agent_id=raw["agent"], state=raw["state"], at=float(raw["at"]),
                           reason=raw.get("reason", ""), queue=raw.get("queue", ""), call_id=raw.get("call", ""),
                           instance=raw.get("instance", ""))
    except (KeyError, ValueError):
        return None


class StateSink(Protocol):
    async def record(self, changes: Sequence[StateChange]) -> None:
        """Write the changes for good (each once, whatever the number of calls); raise if not."""


class StateRecorder(BackgroundLoop):
    """Reads the agent-state stream in a consumer group and writes it to the sink.

    Each pass takes, in this order: this consumer's own entries still unacknowledged (read
    before the sink failed, or before this instance restarted), then entries another consumer
    left unacknowledged for `claim_idle` seconds (it died), then new entries. The sink being
    unavailable (`unavailable` errors) leaves everything pending and retries with a backoff.
    """

    task_name = "acd-state-recorder"

    def __init__(self, redis, stream: str, sink: StateSink, *, consumer: str,
                 unavailable: tuple[type[BaseException], ...] = (), batch: int = 200, block: float = 1.0,
                 claim_idle: float = 30.0, retry_max: float = 10.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.redis = redis
        self.stream = stream
        self.sink = sink
        self.consumer = consumer
        self.unavailable = unavailable
        self.batch = batch
        self.block = block
        self.claim_idle = claim_idle
        self.retry_max = retry_max
        self._sleep = sleep
        self._claim_from = "0-0"
        self._outage = False
        self._stopping = False
        self._group_ready = False

    async def stop(self) -> None:
        # A cancellation can get lost inside a client library (seen now and then in tests: the
        # loop went on reading and stop() waited for ever); the flag ends the loop regardless.
        self._stopping = True
        await super().stop()

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                await self.pass_once()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                if "NOGROUP" in str(exc):  # the stream was deleted (`ctigw acd reset`): start again
                    self._group_ready = False
                    self._claim_from = "0-0"
                self._note_failure(exc, delay)
                await self._sleep(delay)
                delay = min(self.retry_max, delay * 2)

    async def pass_once(self) -> int:
        """Write one batch (waiting up to `block` seconds for new entries); how many entries it took."""
        await self._ensure_group()
        entries = await self._own_pending() or await self._claimed() or await self._new()
        if not entries:
            return 0
        written = await self._write(entries)
        if self._outage:
            self._outage = False
            log.warning("agent state history: the database is back; recording again")
        return written

    # -- reading ----------------------------------------------------------------------------
    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _own_pending(self) -> list:
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=self.batch)
        return _entries(reply)

    async def _claimed(self) -> list:
        reply = await self.redis.xautoclaim(self.stream, GROUP, self.consumer, int(self.claim_idle * 1000),
                                            start_id=self._claim_from, count=self.batch)
        self._claim_from = _text(reply[0])
        if len(reply) > 2 and reply[2]:  # pending entries the cap trimmed away: gone for good
            log.error("agent state history: %d changes were trimmed from Redis before they were written "
                      "(the CRM was away too long)", len(reply[2]))
        return list(reply[1])

    async def _new(self) -> list:
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=self.batch,
                                            block=max(1, int(self.block * 1000)))  # BLOCK 0: for ever
        return _entries(reply)

    # -- writing ----------------------------------------------------------------------------
    async def _write(self, entries: Iterable) -> int:
        ids, changes = [], []
        for entry_id, fields in entries:
            ids.append(entry_id)
            change = parse_entry(entry_id, fields)
            if change is None:
                log.error("agent state history: entry %s is trimmed or unreadable; skipped", _text(entry_id))
            else:
                changes.append(change)
        if changes:
            try:
                await self.sink.record(changes)
            except self.unavailable:
                raise
            except Exception:
                # A change the database refuses for good must not hold up every later one.
                changes = await self._write_one_by_one(changes)
        await self.redis.xack(self.stream, GROUP, *ids)
        return len(ids)

    async def _write_one_by_one(self, changes: list[StateChange]) -> list[StateChange]:
        written = []
        for change in changes:
            try:
                await self.sink.record([change])
                written.append(change)
            except self.unavailable:
                raise
            except Exception:
                log.exception("agent state history: dropping change %s the database refuses", change)
        return written

    def _note_failure(self, exc: BaseException, delay: float) -> None:
        if isinstance(exc, self.unavailable):
            if not self._outage:
                self._outage = True
                log.warning("agent state history: database unavailable (%s); changes wait in Redis", exc)
            return
        log.warning("agent state history: %s: %s; again in %.1fs", type(exc).__name__, exc, delay)


def _entries(reply) -> list:
    """The (id, fields) pairs of an XREADGROUP reply for one stream."""
    if not reply:
        return []
    return [entry for _, stream_entries in reply for entry in stream_entries]
