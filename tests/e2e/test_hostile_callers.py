"""Hostile caller IDs arriving over real SIP: every call is still served and logged, the
CRM stays intact, and nothing unsafe reaches the logs or the database."""
from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest

from gateway_harness import activities, crm_db, ended_call, gateway, live_call, prompts, wait_for  # noqa: F401

HOSTILE = {
    "sql": "'; DROP TABLE customers; --",
    "quotes": '0532"1234\'567',
    "control": "0532\x07\x1b[2J1234567",
    "unicode": "+90532😀١٢٣٤",
    "overlong": "9" * 300,
}


def customers(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_a_hostile_caller_id_is_served_as_an_unknown_caller_and_logged_safely(kind, gateway, crm_db, phones):
    before = customers(crm_db)
    user_part = quote(HOSTILE[kind], safe="")  # what a hostile carrier could put in From
    call = await phones.call("100", caller_id=user_part, display='Bobby \\"Tables\\" Çağrı')  # quotes escaped as SIP requires
    reached = await wait_for(lambda: [c for c in gateway.tracker.calls.values()], 15, "the gateway to take the call")
    seen = reached[-1]
    assert not seen.caller.known
    # Asterisk hands the gateway the hostile value itself (it cuts it at 79 characters).
    assert seen.raw_ani and HOSTILE[kind].startswith(seen.raw_ani)
    await wait_for(lambda: live_call(gateway, seen.raw_ani) and seen.ivr_path, 15, "the IVR to start")
    await call.hangup()
    ended = await ended_call(gateway, seen.raw_ani)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "the activity")
    assert row["outcome"] == "abandoned_ivr" and row["customer_id"] is None
    stored = row["raw_ani"] or ""
    assert len(stored) <= 64 and all(ch.isprintable() for ch in stored)
    assert customers(crm_db) == before  # no lead, no damage
