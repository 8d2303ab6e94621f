"""Real databases for the CRM tests: SQLite files and PostgreSQL, never fakes.

`crm_url` runs a test on both engines: a fresh migrated SQLite file, and a PostgreSQL
database of this session (`ctigw_test_<random>` on $CTIGW_TEST_PG_URL, default the local
server; emptied before each test, dropped at the end). `demo_url` adds the demo customers.

`outage_crm` is a database the test can take away and bring back: a SQLite file whose folder
is moved away, or a throwaway PostgreSQL cluster (initdb/pg_ctl on a free port, under a temp
folder) that is stopped and started again.
"""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gateway.crm.demo_data import load_demo_data
from gateway.crm.migrate import upgrade_database
from gateway.crm.store import CrmStore
from disposable_postgres import DisposablePostgres, postgres_bin

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CRM_TABLES = ("activities", "cases", "orders", "phone_numbers", "customers", "agent_state_periods")


def _psycopg_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


# -- PostgreSQL: one database for the session, emptied per test -----------------------------
@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("CTIGW_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        with _psycopg_connect(url) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        if os.environ.get("CTIGW_TEST_PG_URL"):
            raise  # asked for explicitly: a failure, not a skip
        pytest.skip(f"no PostgreSQL at {DEFAULT_PG_URL} ({exc}); set CTIGW_TEST_PG_URL")
    return url


@pytest.fixture(scope="session")
def pg_session_url(pg_server_url):
    name = f"ctigw_test_{secrets.token_hex(4)}"
    server = make_url(pg_server_url)
    with _psycopg_connect(pg_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with _psycopg_connect(pg_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_session_url):
    with _psycopg_connect(pg_session_url) as conn:
        conn.execute(f"TRUNCATE {', '.join(CRM_TABLES)} RESTART IDENTITY CASCADE")
    return pg_session_url


# -- SQLite: a migrated file per test, copied from one migrated once ------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crm-template") / "crm.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "crm" / "crm.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crm_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def demo_url(crm_url) -> str:
    load_demo_data(crm_url, customers=40, activities_per_customer=3, seed=3)
    return crm_url


@pytest.fixture
async def store(demo_url):
    store = await CrmStore.open(demo_url, region="TR")
    yield store
    await store.close()


class Sql:
    """Reads the CRM tables through a separate tool connection (what is really stored)."""

    counts = staticmethod(lambda url: table_counts(url))
    rows = staticmethod(lambda url, sql, **params: query(url, sql, **params))


@pytest.fixture
def sql() -> Sql:
    return Sql()


def table_counts(url: str) -> dict[str, int]:
    """Row counts of the CRM tables, read with a separate tool connection."""
    from sqlalchemy import text

    from gateway.crm.migrate import sync_engine

    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in CRM_TABLES}
    finally:
        engine.dispose()


def query(url: str, sql: str, **params) -> list[tuple]:
    from sqlalchemy import text

    from gateway.crm.migrate import sync_engine

    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


# -- a database that can go away -------------------------------------------------------------
@pytest.fixture(scope="session")
def disposable_pg():
    bindir = postgres_bin()
    if bindir is None or shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) to start a throwaway cluster")
    cluster = DisposablePostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        upgrade_database(cluster.url)
        yield cluster
    finally:
        cluster.destroy()


class SqliteOutage:
    """Takes a SQLite CRM away by moving its folder aside, as an unmounted volume would."""

    def __init__(self, url: str):
        self.url = url
        self.path = Path(make_url(url).database)
        self.away = self.path.parent.with_name(self.path.parent.name + "-away")

    def stop(self) -> None:
        self.path.parent.rename(self.away)

    def start(self) -> None:
        self.away.rename(self.path.parent)


class PostgresOutage:
    def __init__(self, cluster: DisposablePostgres):
        self.cluster = cluster
        self.url = cluster.url

    def stop(self) -> None:
        self.cluster.stop()

    def start(self) -> None:
        self.cluster.start()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def outage_crm(request):
    """(outage, url): a CRM with the demo customers that `outage.stop()` takes away."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        outage = SqliteOutage(url)
    else:
        cluster = request.getfixturevalue("disposable_pg")
        with _psycopg_connect(cluster.url) as conn:
            conn.execute(f"TRUNCATE {', '.join(CRM_TABLES)} RESTART IDENTITY CASCADE")
        outage = PostgresOutage(cluster)
        url = cluster.url
    load_demo_data(url, customers=5, activities_per_customer=2)
    yield outage, url
    if request.param == "sqlite" and outage.away.exists():
        outage.start()
