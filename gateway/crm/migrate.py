"""Bring a CRM database to the current schema with Alembic, from code (no alembic.ini).

`ctigw crm migrate` and the gateway's start both call `upgrade_database(url)`. On PostgreSQL
the upgrade runs under an advisory lock, so gateway instances starting together take turns
instead of racing to create the same tables. New SQLite files are switched to WAL, which lets
lookups read while an activity is written.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from gateway.crm.urls import parse_crm_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x43544947_57434D  # "CTIGWCM": any constant shared by all instances


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def sync_engine(url: str, **kwargs) -> Engine:
    """A sync SQLAlchemy engine for tools (migrations, import, demo data)."""
    crm_url = parse_crm_url(url)
    if crm_url.is_sqlite:
        crm_url.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return create_engine(crm_url.sqlalchemy_url, **kwargs)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_database(url: str, revision: str = "head") -> str | None:
    """Apply pending migrations; returns the revision the database is at afterwards."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)  # its INFO chatter on every start; we log the change
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
            after = MigrationContext.configure(conn).get_current_revision()
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        if before != after:
            log.info("CRM schema migrated from %s to %s", before or "empty", after)
        return after
    finally:
        engine.dispose()


async def upgrade_database_async(url: str, revision: str = "head") -> str | None:
    """The same, off the event loop (for the gateway's start)."""
    return await asyncio.to_thread(upgrade_database, url, revision)
