"""SQLite engine: stdlib sqlite3, each operation run whole in one worker-thread hop.

An async hop costs more than an indexed SQLite query (DESIGN.md: aiosqlite took 10x the raw
driver for a lookup), so a lookup's three statements run synchronously in one worker thread,
inside one read transaction, and come back as one result. Two workers by default: lookups
are CPU-bound under the GIL once the file is cached, so more threads only add contention
(benchmarks/ani_lookup.py --sqlite-threads measures it); a second one keeps a lookup that
waits on the disk from holding up the next. Each worker thread keeps its own
connection; sqlite3 caches the prepared statements per connection. SQLAlchemy's sync engine in
the same arrangement measured about twice as slow at p50 on 1M customers, with a longer tail
(benchmarks/ani_lookup.py --compare-sqlalchemy), hence the stdlib driver. WAL mode (set by the
migration) lets lookups read while an activity is written.

The file is opened read-write without creating it, and each operation first checks that the
path still names the same file: a database deleted, moved away or replaced under a running
gateway (an unmounted volume, a restore) is reported as unavailable and reopened when it is
back, instead of being read stale through an old file handle.
"""
from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from gateway.crm import queries as q
from gateway.crm.backend import CrmUnavailable, CustomerRecord, money
from gateway.crm.models import parse_sqlite_timestamp, sqlite_timestamp
from gateway.crm.views import (
    OPEN_CASE_LIMIT,
    RECENT_ACTIVITY_LIMIT,
    ActivitySummary,
    CaseSummary,
    OrderSummary,
)

# Per connection. mmap and a larger page cache halve the lookup's p99 (DESIGN.md figures).
_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = FULL",  # an activity acknowledged is an activity on disk
    "PRAGMA mmap_size = 1073741824",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
)


class _Workers:
    """Threads that run blocking calls for the event loop.

    Leaner than `run_in_executor` (no concurrent.futures.Future to chain): the job goes on a
    queue, and the thread hands the result straight to the waiting asyncio future."""

    def __init__(self, count: int, name: str):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn, args = job
            try:
                outcome = (future, fn(*args), None)
            except BaseException as exc:  # handed to the awaiting task
                outcome = (future, None, exc)
            try:
                loop.call_soon_threadsafe(_settle, *outcome)
            except RuntimeError:
                pass  # the loop is closed; nobody is waiting any more

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


def _settle(future: asyncio.Future, result, exc: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller gave up (lookup timeout); the work is done anyway
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class _ThreadConnection(threading.local):
    conn: sqlite3.Connection | None = None
    identity: tuple[int, int] | None = None


class SqliteBackend:
    engine = "sqlite"

    def __init__(self, path: Path, *, threads: int = 2, busy_timeout: float = 2.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._workers = _Workers(threads, "crm-sqlite")
        self._local = _ThreadConnection()
        self._connections: set[sqlite3.Connection] = set()
        self._connections_lock = threading.Lock()
        self._closed = False

    # -- async surface: one hop each --------------------------------------------------------
    async def _run(self, fn, *args):
        if self._closed:
            raise CrmUnavailable("the CRM store is closed")
        return await self._workers.submit(self._call, fn, args)

    async def lookup_by_phone(self, e164: str, since: datetime) -> CustomerRecord | None:
        return await self._run(_lookup, q.SQLITE_PROFILE_BY_PHONE, {"e164": e164, "since": sqlite_timestamp(since)})

    async def lookup_by_account(self, account_number: str, since: datetime) -> CustomerRecord | None:
        params = {"account_number": account_number, "since": sqlite_timestamp(since)}
        return await self._run(_lookup, q.SQLITE_PROFILE_BY_ACCOUNT, params)

    async def create_lead(self, e164: str, language: str | None, now: datetime) -> tuple[int, bool]:
        return await self._run(_create_lead, e164, language, sqlite_timestamp(now))

    async def account_number_of(self, customer_id: int) -> str | None:
        row = await self._run(_fetchone, q.ACCOUNT_NUMBER_OF, {"customer_id": customer_id})
        return row[0] if row else None

    async def latest_open_case(self, customer_id: int) -> CaseSummary | None:
        row = await self._run(_fetchone, q.LATEST_OPEN_CASE, {"customer_id": customer_id})
        return _case(row) if row else None

    async def recent_orders(self, customer_id: int, limit: int) -> list[OrderSummary]:
        rows = await self._run(_fetchall, q.RECENT_ORDERS, {"customer_id": customer_id, "limit": limit})
        return [_order(row) for row in rows]

    async def write_call_activity(self, params: dict) -> int:
        return await self._run(_write, q.UPSERT_CALL_ACTIVITY, _sqlite_params(params))

    async def write_wrapup(self, params: dict) -> int:
        return await self._run(_write, q.UPSERT_WRAPUP, _sqlite_params(params))

    async def write_wrapup_timeout(self, params: dict) -> int:
        return await self._run(_write, q.UPSERT_WRAPUP_TIMEOUT, _sqlite_params(params))

    async def ping(self) -> None:
        await self._run(_fetchone, "SELECT 1 FROM customers LIMIT 1", {})

    async def close(self) -> None:
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._workers.shutdown)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # -- in the worker thread ---------------------------------------------------------------
    def _call(self, fn, args):
        conn = self._connection()
        try:
            return fn(conn, *args)
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                _rollback_quietly(conn)
                raise  # integrity, data or programming errors are real errors
            # locked past the busy timeout, I/O error, file gone, not a database, no schema
            self._drop_connection()
            raise CrmUnavailable(f"SQLite CRM {self.path}: {exc}") from exc
        except BaseException:
            _rollback_quietly(conn)
            raise

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            self._drop_connection()
            raise CrmUnavailable(f"SQLite CRM {self.path}: {exc.strerror}") from exc
        identity = (stat.st_dev, stat.st_ino)
        if local.conn is not None and local.identity != identity:
            self._drop_connection()  # same path, another file now
        if local.conn is None:
            local.conn = self._connect()
            local.identity = identity
        return local.conn

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path))}?mode=rw"  # never create an empty CRM by accident
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False, cached_statements=64)
            for pragma in _PRAGMAS:
                conn.execute(pragma)
        except sqlite3.Error as exc:
            raise CrmUnavailable(f"SQLite CRM {self.path}: {exc}") from exc
        with self._connections_lock:
            self._connections.add(conn)
        return conn

    def _drop_connection(self) -> None:
        conn, self._local.conn, self._local.identity = self._local.conn, None, None
        if conn is not None:
            with self._connections_lock:
                self._connections.discard(conn)
            try:
                conn.close()
            except sqlite3.Error:
                pass


def _rollback_quietly(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.rollback()
    except sqlite3.Error:
        pass


def _sqlite_params(params: dict) -> dict:
    return {k: sqlite_timestamp(v) if isinstance(v, datetime) else v for k, v in params.items()}


def _lookup(conn: sqlite3.Connection, profile_sql: str, params: dict) -> CustomerRecord | None:
    conn.execute("BEGIN")  # one snapshot for the three reads
    row = conn.execute(profile_sql, params).fetchone()
    if row is None:
        conn.execute("COMMIT")
        return None
    customer_id = row[0]
    activities = conn.execute(
        q.SQLITE_RECENT_ACTIVITIES, {"customer_id": customer_id, "activity_limit": RECENT_ACTIVITY_LIMIT}
    ).fetchall()
    cases = conn.execute(q.SQLITE_OPEN_CASES, {"customer_id": customer_id, "case_limit": OPEN_CASE_LIMIT}).fetchall()
    conn.execute("COMMIT")
    return CustomerRecord(
        id=customer_id, name=row[1], language=row[2], tier=row[3], segment=row[4],
        lifetime_value=money(row[5]), account_number=row[6], notes=row[7], is_lead=bool(row[8]),
        last_agent_id=row[9], calls_since=row[10],
        recent_activities=[_activity(a) for a in activities],
        open_cases=[_case(c) for c in cases],
    )


def _activity(row) -> ActivitySummary:
    return ActivitySummary(row[0], row[1], parse_sqlite_timestamp(row[2]), *row[3:])


def _case(row) -> CaseSummary:
    return CaseSummary(row[0], row[1], row[2], row[3], parse_sqlite_timestamp(row[4]), row[5])


def _order(row) -> OrderSummary:
    return OrderSummary(row[0], row[1], parse_sqlite_timestamp(row[2]), row[3], money(row[4]), row[5], row[6])


def _fetchone(conn: sqlite3.Connection, sql: str, params: dict):
    return conn.execute(sql, params).fetchone()


def _fetchall(conn: sqlite3.Connection, sql: str, params: dict):
    return conn.execute(sql, params).fetchall()


def _write(conn: sqlite3.Connection, sql: str, params: dict) -> int:
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through
    row = conn.execute(sql, params).fetchone()
    conn.execute("COMMIT")
    return row[0]


def _create_lead(conn: sqlite3.Connection, e164: str, language: str | None, now: str) -> tuple[int, bool]:
    conn.execute("BEGIN IMMEDIATE")  # serialises lead creation against other writers
    existing = conn.execute(q.CUSTOMER_OF_PHONE, {"e164": e164}).fetchone()
    if existing:
        conn.execute("COMMIT")
        return existing[0], False
    customer_id = conn.execute(q.INSERT_LEAD, {"language": language, "true": True, "now": now}).fetchone()[0]
    conn.execute(q.INSERT_LEAD_PHONE, {"customer_id": customer_id, "e164": e164, "true": True, "now": now}).fetchone()
    conn.execute("COMMIT")
    return customer_id, True
