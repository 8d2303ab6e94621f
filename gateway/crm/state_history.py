"""The agent state history in the CRM database (`agent_state_periods`).

    history = AgentStateHistory.open(settings.crm_url)
    recorder = acd.state_recorder(history, unavailable=(CrmUnavailable,))   # writes into it
    periods = await history.periods(Window(start, end), agents=["1001"])    # clipped to the window
    by_reason = await history.not_ready_by_reason(Window(start, end))
    await history.close()

Writing (`record`) is idempotent and order-free: a change already stored (same stream id)
is skipped; a new one becomes a period that ends where the agent's next stored period starts
(if that was written first), and it ends the agent's previous period at its own start. So
entries redelivered, claimed from a dead instance or written late after an outage all land
right. Writers take turns (SQLite's write lock taken at BEGIN, a PostgreSQL advisory lock),
so two instances never close the same period differently. These run off the call path, with
SQLAlchemy Core on its sync engine in a worker thread, the same statements on both engines.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from sqlalchemy import event, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from gateway.crm import state_periods
from gateway.crm.directory import directory_engine, in_transaction
from gateway.crm.models import agent_state_periods as t
from gateway.crm.state_periods import StatePeriod, Window

if TYPE_CHECKING:  # what the ACD's recorder hands over (gateway/acd/state_log.py)
    from gateway.acd.state_log import StateChange

_PG_WRITE_LOCK = 0x43544947_415348  # "CTIGWASH": shared by every gateway's recorder
_IN_CHUNK = 500  # agent ids per IN (...) list


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AgentStateHistory:
    def __init__(self, writer: Engine, reader: Engine, *, clock: Callable[[], datetime] = _now):
        self.writer = writer
        self.reader = reader
        self.clock = clock

    @classmethod
    def open(cls, url: str, *, clock: Callable[[], datetime] = _now) -> AgentStateHistory:
        writer = directory_engine(url, pool_size=2)
        if writer.dialect.name == "sqlite":
            _take_write_lock_at_begin(writer)
        return cls(writer, directory_engine(url, pool_size=2), clock=clock)

    async def close(self) -> None:
        await asyncio.to_thread(self.writer.dispose)
        await asyncio.to_thread(self.reader.dispose)

    # -- writing (the recorder's sink) ------------------------------------------------------
    async def record(self, changes: Sequence[StateChange]) -> None:
        if changes:
            await asyncio.to_thread(in_transaction, self.writer, _record, list(changes))

    # -- reading ----------------------------------------------------------------------------
    async def periods(self, window: Window, agents: Iterable[str] | None = None, *,
                      now: datetime | None = None) -> list[StatePeriod]:
        """Every period overlapping the window, clipped to it (an open one lasts until now),
        by agent and in order."""
        window = window.utc()
        now = (now or self.clock()).astimezone(timezone.utc)
        chosen = None if agents is None else sorted(set(_agent_ids(agents)))
        rows = await asyncio.to_thread(in_transaction, self.reader, _overlapping, window, chosen)
        return state_periods.clip_all(rows, window, now)

    async def not_ready_by_reason(self, window: Window, agents: Iterable[str] | None = None, *,
                                  now: datetime | None = None) -> dict[str, dict[str, float]]:
        """{agent: {reason: seconds}} of not-ready time inside the window."""
        return state_periods.not_ready_by_reason(await self.periods(window, agents, now=now))


def _agent_ids(agents: Iterable[str]) -> list[str]:
    ids = list(agents)
    for agent in ids:
        if not isinstance(agent, str) or not agent:
            raise ValueError(f"not an agent id: {agent!r}"[:80])
    return ids


def _take_write_lock_at_begin(engine: Engine) -> None:
    # pysqlite starts a transaction only at the first write, so a read-then-write could
    # interleave with another writer; BEGIN IMMEDIATE takes the write lock up front.
    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _record(conn: Connection, changes: list[StateChange]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})
    keys = [c.sort_key for c in changes]
    done = set(conn.execute(select(t.c.source_id).where(t.c.source_id.in_(keys))).scalars())
    for change in sorted(changes, key=lambda c: c.sort_key):
        key = change.sort_key
        if key in done:
            continue  # delivered again (a claim, a retry after a lost acknowledgement)
        done.add(key)
        start = datetime.fromtimestamp(change.at, timezone.utc)
        agent = t.c.agent_id == change.agent_id
        following = _utc(conn.execute(select(t.c.started_at).where(agent, t.c.source_id > key)
                                      .order_by(t.c.source_id).limit(1)).scalar())
        conn.execute(insert(t).values(
            agent_id=change.agent_id, state=change.state, reason=change.reason or None, queue=change.queue or None,
            call_id=change.call_id or None, started_at=start,
            ended_at=None if following is None else max(following, start),  # clocks of two instances may differ
            source_id=key, instance=change.instance or None))
        before = conn.execute(select(t.c.id, t.c.started_at).where(agent, t.c.source_id < key)
                              .order_by(t.c.source_id.desc()).limit(1)).first()
        if before is not None:
            conn.execute(update(t).where(t.c.id == before.id).values(ended_at=max(start, _utc(before.started_at))))


def _overlapping(conn: Connection, window: Window, agents: list[str] | None) -> list[StatePeriod]:
    query = (select(t.c.agent_id, t.c.state, t.c.started_at, t.c.ended_at, t.c.reason, t.c.queue, t.c.call_id)
             .where(t.c.started_at < window.end, or_(t.c.ended_at.is_(None), t.c.ended_at > window.start))
             .order_by(t.c.agent_id, t.c.source_id))
    if agents is None:
        chunks = [query]
    else:
        chunks = [query.where(t.c.agent_id.in_(agents[i:i + _IN_CHUNK])) for i in range(0, len(agents), _IN_CHUNK)]
    return [StatePeriod(r.agent_id, r.state, _utc(r.started_at), _utc(r.ended_at), r.reason, r.queue, r.call_id)
            for chunk in chunks for r in conn.execute(chunk)]
