"""ANI lookup plus history: the gateway's CrmStore.lookup against the raw driver floor.

    .venv/bin/python benchmarks/ani_lookup.py                       # 1M customers, 10M activities
    .venv/bin/python benchmarks/ani_lookup.py --customers 200000 --activities 2000000
    .venv/bin/python benchmarks/ani_lookup.py --engines sqlite --lookups 2000 --compare-sqlalchemy

Builds the demo CRM at the requested size once per engine and reuses it on later runs (SQLite
file and PostgreSQL database named after the size, marked complete only when fully loaded).
Then, on the same database and the same sample of known callers:

  floor   the same statements the store runs (queries.py), on the raw driver, timed around
          the driver call: stdlib sqlite3 in the calling thread; asyncpg on one connection
          per client
  store   `await CrmStore.lookup(raw_ani)` as the gateway calls it: the caller number in
          national form (classified with phonenumbers), one thread hop (SQLite) or one round
          trip (PostgreSQL), the CallerView built

with 1 client and with 8 concurrent clients (threads for the SQLite floor, asyncio tasks
otherwise). Every lookup is timed on its own. The variants take turns, round after round
(--rounds, default 3), and the median over rounds of each p50/p99 is printed with the
store/floor ratio, so a burst of load from elsewhere on the machine does not decide the
result. A warm-up pass over the sample runs first so every side reads from a warm cache.
Target (issue #3): store p99 within 2x of the floor, and under 5 ms on PostgreSQL.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.crm import queries as q  # noqa: E402
from gateway.crm.backend_sqlite import _PRAGMAS  # noqa: E402
from gateway.crm.demo_data import load_demo_data  # noqa: E402
from gateway.crm.migrate import upgrade_database  # noqa: E402
from gateway.crm.models import sqlite_timestamp, utcnow  # noqa: E402
from gateway.crm.numbers import _classify_short, classify_ani  # noqa: E402
from gateway.crm.progress import Progress  # noqa: E402
from gateway.crm.store import CrmStore  # noqa: E402
from gateway.crm.views import OPEN_CASE_LIMIT, RECENT_ACTIVITY_LIMIT, REPEAT_WINDOW_DAYS  # noqa: E402

TARGET_CUSTOMERS, TARGET_ACTIVITIES = 1_000_000, 10_000_000
numbers_for_report: list[list[str]] = []
ROOT = Path(__file__).resolve().parent.parent


# -- building or reusing the database -------------------------------------------------------
def sqlite_database(directory: Path, customers: int, activities: int, rebuild: bool) -> str:
    path = directory / f"crm-{customers}-{activities}.sqlite3"
    marker = path.with_suffix(".complete")
    url = f"sqlite:///{path}"
    if marker.exists() and path.exists() and not rebuild:
        print(f"reusing {path}")
        return url
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    _build(url, customers, activities)
    marker.write_text("complete\n")
    return url


def pg_database(server_url: str, customers: int, activities: int, rebuild: bool) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"ctigw_bench_{customers}_{activities}"
    admin = make_url(server_url).set(drivername="postgresql")
    url = admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
        if row and row[0] == "ctigw-bench complete" and not rebuild:
            print(f"reusing PostgreSQL database {name}")
            return url
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    _build(url, customers, activities)
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'ctigw-bench complete'")
    return url


def _build(url: str, customers: int, activities: int) -> None:
    generated = max(0, customers - 2)  # the two fixed demo customers count too
    per_customer = max(1, round(activities / max(1, customers)))
    print(f"building {url.split('@')[-1]}: {customers:,} customers, {per_customer} activities each")
    upgrade_database(url)
    progress = Progress(generated + 2, "  loading", "customers")
    started = time.monotonic()
    result = load_demo_data(url, generated, per_customer, replace=True, progress=progress.advance)
    progress.finish()
    c = result.counts
    print(f"  built in {time.monotonic() - started:,.0f} s: {c.customers:,} customers, {c.phone_numbers:,} numbers, "
          f"{c.activities:,} activities, {c.cases:,} cases, {c.orders:,} orders")


# -- the sample -----------------------------------------------------------------------------
def national_form(e164: str) -> str:
    """How a trunk typically delivers the number: 0532... for Turkey, 0044... for abroad."""
    return "0" + e164[3:] if e164.startswith("+90") else "00" + e164[1:]


def sample_numbers_sqlite(path: str, size: int, seed: int) -> list[str]:
    conn = sqlite3.connect(path)
    highest = conn.execute("SELECT max(id) FROM phone_numbers").fetchone()[0]
    ids = random.Random(seed).sample(range(1, highest + 1), min(size, highest))
    numbers = [conn.execute("SELECT e164 FROM phone_numbers WHERE id = ?", (i,)).fetchone()[0] for i in ids]
    conn.close()
    return numbers


async def sample_numbers_pg(dsn: str, size: int, seed: int) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    highest = await conn.fetchval("SELECT max(id) FROM phone_numbers")
    ids = random.Random(seed).sample(range(1, highest + 1), min(size, highest))
    rows = await conn.fetch("SELECT e164 FROM phone_numbers WHERE id = ANY($1::bigint[])", ids)
    await conn.close()
    numbers = [r[0] for r in rows]
    random.Random(seed).shuffle(numbers)
    return numbers


# -- measuring ------------------------------------------------------------------------------
def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def sqlite_floor(path: str, numbers: list[str], clients: int) -> list[float]:
    """The store's three statements on raw sqlite3, one connection per client thread."""
    window = sqlite_timestamp(utcnow() - timedelta(days=REPEAT_WINDOW_DAYS))
    results: list[float] = []
    lock = threading.Lock()
    all_connected = threading.Barrier(clients)

    def client(chunk: list[str]) -> None:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        all_connected.wait()
        mine = []
        for e164 in chunk:
            t0 = time.perf_counter()
            conn.execute("BEGIN")
            row = conn.execute(q.SQLITE_PROFILE_BY_PHONE, {"e164": e164, "since": window}).fetchone()
            if row is not None:
                conn.execute(q.SQLITE_RECENT_ACTIVITIES,
                             {"customer_id": row[0], "activity_limit": RECENT_ACTIVITY_LIMIT}).fetchall()
                conn.execute(q.SQLITE_OPEN_CASES, {"customer_id": row[0], "case_limit": OPEN_CASE_LIMIT}).fetchall()
            conn.execute("COMMIT")
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in split(numbers, clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def sqlalchemy_in_thread(path: str, numbers: list[str], clients: int) -> list[float]:
    """The alternative considered for SQLite: SQLAlchemy's sync engine (Core, text() compiled
    once) run in a worker thread per lookup, building the same CustomerRecord as the store's
    backend. Compare with `backend_only` (E.164 given to both: no phonenumbers)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine, event, text

    from gateway.crm.backend import CustomerRecord, money
    from gateway.crm.backend_sqlite import _activity, _case

    engine = create_engine(f"sqlite:///{path}", pool_size=clients)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        for pragma in _PRAGMAS:
            dbapi_conn.execute(pragma)

    profile, recent, cases = text(q.SQLITE_PROFILE_BY_PHONE), text(q.SQLITE_RECENT_ACTIVITIES), text(q.SQLITE_OPEN_CASES)
    window = sqlite_timestamp(utcnow() - timedelta(days=REPEAT_WINDOW_DAYS))

    def lookup(e164: str):
        with engine.connect() as conn:
            row = conn.execute(profile, {"e164": e164, "since": window}).first()
            if row is None:
                return None
            activities = conn.execute(recent, {"customer_id": row[0], "activity_limit": RECENT_ACTIVITY_LIMIT}).all()
            open_cases = conn.execute(cases, {"customer_id": row[0], "case_limit": OPEN_CASE_LIMIT}).all()
        return CustomerRecord(row[0], row[1], row[2], row[3], row[4], money(row[5]), row[6], row[7], bool(row[8]),
                              row[9], row[10], [_activity(a) for a in activities], [_case(c) for c in open_cases])

    executor = ThreadPoolExecutor(max_workers=clients)

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        results: list[float] = []

        async def client(chunk):
            for e164 in chunk:
                t0 = time.perf_counter()
                await loop.run_in_executor(executor, lookup, e164)
                results.append(time.perf_counter() - t0)

        await asyncio.gather(*(client(c) for c in split(numbers[: clients * 4], clients)))  # connect first
        results.clear()
        await asyncio.gather(*(client(c) for c in split(numbers, clients)))
        return results

    try:
        return asyncio.run(run())
    finally:
        executor.shutdown()
        engine.dispose()


def backend_only(url: str, numbers: list[str], clients: int, sqlite_threads: int) -> list[float]:
    """The store's engine alone, E.164 given (no phonenumbers, no view): for SQLite the worker
    thread hop with stdlib sqlite3, for PostgreSQL the pooled asyncpg round trip."""

    async def run() -> list[float]:
        store = await CrmStore.open(url, sqlite_threads=sqlite_threads, pg_pool_size=max(clients, 2))
        since = utcnow() - timedelta(days=REPEAT_WINDOW_DAYS)
        results: list[float] = []

        async def client(chunk):
            for e164 in chunk:
                t0 = time.perf_counter()
                await store.backend.lookup_by_phone(e164, since)
                results.append(time.perf_counter() - t0)

        try:
            await asyncio.gather(*(client(c) for c in split(numbers[: clients * 4], clients)))
            results.clear()
            await asyncio.gather(*(client(c) for c in split(numbers, clients)))
        finally:
            await store.close()
        return results

    return asyncio.run(run())


async def pg_floor(dsn: str, numbers: list[str], clients: int) -> list[float]:
    """The store's one statement on raw asyncpg, one connection per client task."""
    import asyncpg

    sql, names = q.pg_positional(q.PG_LOOKUP_BY_PHONE)
    window = utcnow() - timedelta(days=REPEAT_WINDOW_DAYS)
    values = {"since": window, "activity_limit": RECENT_ACTIVITY_LIMIT, "case_limit": OPEN_CASE_LIMIT}
    results: list[float] = []

    async def client(conn, chunk):
        for e164 in chunk:
            args = [e164 if n == "e164" else values[n] for n in names]
            t0 = time.perf_counter()
            await conn.fetchrow(sql, *args)
            results.append(time.perf_counter() - t0)

    connections = await asyncio.gather(*(asyncpg.connect(dsn, server_settings={"jit": "off"})
                                         for _ in range(clients)))  # all connected before timing
    try:
        await asyncio.gather(*(client(conn, chunk) for conn, chunk in zip(connections, split(numbers, clients))))
    finally:
        await asyncio.gather(*(conn.close() for conn in connections))
    return results


async def store_lookups(url: str, numbers: list[str], clients: int, sqlite_threads: int) -> list[float]:
    store = await CrmStore.open(url, region="TR", sqlite_threads=sqlite_threads, pg_pool_size=max(clients, 2))
    # Open every pooled connection / worker-thread connection first (not measured), then
    # forget the classified numbers: each measured lookup pays for phonenumbers in full.
    await asyncio.gather(*(store.lookup(national_form(e164)) for e164 in numbers[: clients * 4]))
    _classify_short.cache_clear()
    results: list[float] = []
    unknown = 0

    async def client(chunk):
        nonlocal unknown
        for e164 in chunk:
            raw = national_form(e164)
            t0 = time.perf_counter()
            view = await store.lookup(raw)
            results.append(time.perf_counter() - t0)
            unknown += not view.known

    try:
        await asyncio.gather(*(client(c) for c in split(numbers, clients)))
    finally:
        await store.close()
    if unknown:
        raise SystemExit(f"{unknown} sampled numbers were not found by the store: the benchmark is wrong")
    return results


def classification_cost(numbers: list[str]) -> tuple[float, float]:
    """What ANI normalisation (phonenumbers, nothing cached) adds to each store lookup."""
    samples = []
    _classify_short.cache_clear()
    for e164 in numbers:
        raw = national_form(e164)
        t0 = time.perf_counter()
        classify_ani(raw, "TR")
        samples.append(time.perf_counter() - t0)
    _classify_short.cache_clear()
    return percentiles(samples)


# -- driving --------------------------------------------------------------------------------
def report(rows: list[tuple]) -> None:
    print()
    print(f"{'engine':<11} {'clients':>7}  {'what':<22} {'p50 us':>8} {'p99 us':>8} {'lookups/s':>10}   "
          f"{'p50 x floor':>11} {'p99 x floor':>11}")
    for engine, clients, what, p50, p99, rate, floor in rows:
        ratio = f"{p50 / floor[0]:>11.2f} {p99 / floor[1]:>11.2f}" if floor else ""
        print(f"{engine:<11} {clients:>7}  {what:<22} {p50 * 1e6:>8.0f} {p99 * 1e6:>8.0f} {rate:>10,.0f}   {ratio}")


def measure(engine: str, clients: int, variants: list[tuple[str, Callable[[], list[float]]]], rounds: int,
            rows: list[tuple]) -> None:
    """Run every variant once per round, in turn, so that a burst of noise from the rest of the
    machine hits them alike; report for each the median over rounds of p50, p99 and rate. The
    first variant is the floor the others are compared with."""
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in variants}
    for _ in range(rounds):
        for name, run in variants:
            started = time.perf_counter()
            samples = run()
            rate = len(samples) / (time.perf_counter() - started)
            results[name].append((*percentiles(samples), rate))
    floor = None
    for name, _ in variants:
        p50, p99, rate = (statistics.median(r[i] for r in results[name]) for i in range(3))
        rows.append((engine, clients, name, p50, p99, rate, floor))
        floor = floor or (p50, p99)


def bench_sqlite(args, rows) -> None:
    url = sqlite_database(Path(args.dir), args.customers, args.activities, args.rebuild)
    if args.build_only:
        return
    path = url.removeprefix("sqlite:///")
    numbers = sample_numbers_sqlite(path, args.lookups, args.seed)
    numbers_for_report.append(numbers)
    sqlite_floor(path, numbers, 1)  # warm-up: the sample's pages into the cache
    for clients in args.concurrency:
        variants = [
            ("floor: raw sqlite3", lambda: sqlite_floor(path, numbers, clients)),
            (f"CrmStore ({args.sqlite_threads} threads)",
             lambda: asyncio.run(store_lookups(url, numbers, clients, args.sqlite_threads))),
        ]
        if args.compare_sqlalchemy:  # the engine choice, E.164 given to both
            variants += [("E.164: backend hop", lambda: backend_only(url, numbers, clients, args.sqlite_threads)),
                         ("E.164: SQLAlchemy/thr", lambda: sqlalchemy_in_thread(path, numbers, clients))]
        measure("sqlite", clients, variants, args.rounds, rows)


def bench_pg(args, rows) -> None:
    url = pg_database(args.pg_url, args.customers, args.activities, args.rebuild)
    if args.build_only:
        return
    numbers = asyncio.run(sample_numbers_pg(url, args.lookups, args.seed))
    numbers_for_report.append(numbers)
    asyncio.run(pg_floor(url, numbers, 1))  # warm-up
    for clients in args.concurrency:
        variants = [
            ("floor: raw asyncpg", lambda: asyncio.run(pg_floor(url, numbers, clients))),
            ("CrmStore (asyncpg)", lambda: asyncio.run(store_lookups(url, numbers, clients, 1))),
        ]
        if args.compare_sqlalchemy:  # the breakdown: the pooled backend alone, E.164 given
            variants.append(("E.164: backend pool", lambda: backend_only(url, numbers, clients, 1)))
        measure("postgresql", clients, variants, args.rounds, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=TARGET_CUSTOMERS)
    parser.add_argument("--activities", type=int, default=TARGET_ACTIVITIES)
    parser.add_argument("--lookups", type=int, default=5000, help="sampled known callers per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement; medians are reported")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--concurrency", default="1,8", help="client counts, comma-separated")
    parser.add_argument("--pg-url", default=os.environ.get("CTIGW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="PostgreSQL server, default $CTIGW_TEST_PG_URL or the local one "
                             "(the benchmark creates its own database there)")
    parser.add_argument("--dir", default=str(ROOT / "var" / "bench"), help="where the SQLite databases live")
    parser.add_argument("--sqlite-threads", type=int, default=2, help="CrmStore worker threads for SQLite")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the databases, measure nothing")
    parser.add_argument("--compare-sqlalchemy", action="store_true",
                        help="also time the backend alone (E.164 given) and, for SQLite, SQLAlchemy's sync "
                             "engine in a thread: the alternative to stdlib sqlite3")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    engines = [e.strip() for e in args.engines.split(",")]

    if args.customers < TARGET_CUSTOMERS or args.activities < TARGET_ACTIVITIES:
        print(f"NOTE: {args.customers:,} customers / {args.activities:,} activities, FEWER than the "
              f"{TARGET_CUSTOMERS:,} / {TARGET_ACTIVITIES:,} the target is stated for.")
    print(f"{args.lookups:,} known callers per measurement, {args.rounds} rounds, clients {args.concurrency}, python {sys.version.split()[0]}, "
          f"sqlite {sqlite3.sqlite_version}")
    rows: list[tuple] = []
    if "sqlite" in engines:
        bench_sqlite(args, rows)
    if "postgresql" in engines:
        bench_pg(args, rows)
    if rows:
        report(rows)
        p50, p99 = classification_cost(numbers_for_report[0])
        print(f"\nof each store lookup, ANI normalisation with phonenumbers (uncached): p50 {p50 * 1e6:.0f} us, "
              f"p99 {p99 * 1e6:.0f} us")
    for engine, clients, what, p50, p99, rate, floor in rows:
        if floor:
            verdict = "within" if p99 <= 2 * floor[1] else "NOT within"
            extra = ""
            if engine == "postgresql":
                extra = f"; p99 {'under' if p99 < 0.005 else 'NOT under'} 5 ms"
            print(f"{engine} x{clients} {what}: p99 {verdict} 2x of the floor{extra}")
    if args.customers < TARGET_CUSTOMERS or args.activities < TARGET_ACTIVITIES:
        print(f"NOTE: measured on {args.customers:,} customers / {args.activities:,} activities, "
              f"not the {TARGET_CUSTOMERS:,} / {TARGET_ACTIVITIES:,} target size.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
