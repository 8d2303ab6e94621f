"""Alembic migrations: applied from code, idempotent, matching the models, on both engines."""
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.crm.migrate import alembic_config, current_revision, head_revision, sync_engine, upgrade_database
from gateway.crm.models import Base


def test_migrated_schema_matches_the_models(crm_url):
    engine = sync_engine(crm_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_upgrading_again_changes_nothing(crm_url, sql):
    assert upgrade_database(crm_url) == head_revision()
    assert upgrade_database(crm_url) == head_revision()
    assert sql.counts(crm_url) == {t: 0 for t in sql.counts(crm_url)}


def test_a_new_sqlite_file_is_created_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'crm.sqlite3'}"
    assert upgrade_database(url) == head_revision()
    engine = sync_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_downgrade_to_nothing_and_back(crm_url, sql):
    engine = sync_engine(crm_url)
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    assert upgrade_database(crm_url) == head_revision()
    assert "customers" in sql.counts(crm_url)


@pytest.mark.postgres
def test_instances_starting_together_take_turns(pg_server_url):
    """Two gateways migrating one empty database at once: the advisory lock serialises them."""
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"ctigw_test_mig_{secrets.token_hex(3)}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    results, errors = [], []

    def migrate():
        try:
            results.append(upgrade_database(url))
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    try:
        threads = [threading.Thread(target=migrate) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and results == [head_revision()] * 4
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
