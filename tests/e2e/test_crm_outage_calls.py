"""The CRM's PostgreSQL goes away while calls come in through the real Asterisk: callers are
still served (as unknown, CRM unavailable), every call's activity is spooled, and when the
database is back each one is written exactly once, in order."""
from __future__ import annotations

import asyncio
import random

import psycopg
import pytest

from disposable_postgres import DisposablePostgres, postgres_bin
from gateway_harness import at_node, ctigw, gateway, prompts, this_call_ended, wait_for  # noqa: F401


@pytest.fixture
def postgres_crm(rig_settings):
    """A throwaway PostgreSQL cluster with the demo customers, as the gateway's CRM."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl)")
    cluster = DisposablePostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        env = {"CTIGW_CRM_URL": cluster.url}
        ctigw("crm", "migrate", env=env)
        ctigw("crm", "demo-data", "--customers", "30", "--no-progress", env=env)
        rig_settings.crm.url = cluster.url
        yield cluster
    finally:
        cluster.destroy()


def call_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT linkedid, outcome, customer_id FROM activities "
                            "WHERE linkedid IS NOT NULL AND linkedid NOT LIKE 'demo-%' ORDER BY id").fetchall()


async def one_call(gw, phones, number: str, node: str = "language"):
    """A call that hangs up at `node` (a known caller skips the language menu)."""
    call = await phones.call("100", caller_id=number)
    live = await at_node(gw, number, node)
    await call.hangup()
    return await this_call_ended(gw, live)


async def test_calls_during_a_database_outage_are_spooled_and_written_once_when_it_is_back(
        postgres_crm, gateway, phones):
    before = await one_call(gateway, phones, "+442071234567", "main_menu")  # Emily Clarke, CRM up
    assert before.caller.known
    await wait_for(lambda: call_rows(postgres_crm.url), 10, "the first activity")

    await asyncio.to_thread(postgres_crm.stop)
    during = []
    for number in ("+442071234567", f"+90555{random.randrange(10**7):07d}", f"+90555{random.randrange(10**7):07d}"):
        ended = await one_call(gateway, phones, number)
        assert not ended.caller.known  # served all the same: asked their language, as unknown
        during.append(ended)
    assert during[0].caller.crm_available is False
    await wait_for(lambda: gateway.activities.spooled_count() == 3, 15, "three spooled activities")

    await asyncio.to_thread(postgres_crm.start)
    await wait_for(lambda: gateway.activities.spooled_count() == 0, 60, "the spool to drain")
    rows = call_rows(postgres_crm.url)
    assert [r[0] for r in rows] == [before.linkedid] + [c.linkedid for c in during]  # once each, in order
    assert [r[1] for r in rows] == ["abandoned_ivr"] * 4
    await gateway.activities.flush()  # a replay changes nothing
    assert call_rows(postgres_crm.url) == rows
