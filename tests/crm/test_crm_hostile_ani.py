"""Hostile caller IDs against the real databases: classified, never raised, tables intact."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.crm.activities import ActivityLog, CallActivity

HOSTILE = [
    ("'; DROP TABLE customers; --", "invalid"),
    ("05321234567'; DROP TABLE phone_numbers; --", "invalid"),
    ("' OR '1'='1", "invalid"),
    ('" OR ""="', "invalid"),
    ("'", "invalid"),
    ("\\", "invalid"),
    ("%", "invalid"),
    ("0532%", "invalid"),
    ("_", "invalid"),
    ("$1", "invalid"),
    (":e164", "invalid"),
    ("?", "invalid"),
    ("\x00", "invalid"),
    ("0532\x001234567", "invalid"),
    ("05321234567\x00", "invalid"),
    ("\x1b]0;pwned\x07", "invalid"),
    ("\r\nX-Injected: 1", "invalid"),
    ("😀📞", "invalid"),
    ("+90 532 123 45 67 😀", "invalid"),
    ("0" * 10_240, "invalid"),
    ("+" + "9" * 10_240, "invalid"),
    ("é" * 10_240, "invalid"),
    ("\u202e7654321235\u202d", "invalid"),
    ("anonymous", "anonymous"),
    ("Restricted", "withheld"),
    ("", "empty"),
]


@pytest.mark.parametrize("raw, kind", HOSTILE)
async def test_hostile_caller_ids(store, demo_url, sql, raw, kind):
    before = sql.counts(demo_url)
    view = await store.lookup(raw)
    assert view.ani.kind == kind
    assert not view.known and view.crm_available
    assert len(view.ani.display) <= 40 and view.ani.display.isprintable()
    assert sql.counts(demo_url) == before
    assert sql.rows(demo_url, "SELECT name FROM customers WHERE account_number = '12345678'") == [("Çağrı Öztürk",)]


async def test_hostile_caller_ids_in_the_activity_log(store, demo_url, sql, tmp_path):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    for n, (raw, _kind) in enumerate(HOSTILE):
        await log.record_call(CallActivity(linkedid=f"h{n}", raw_ani=raw, dnis=raw, queue=raw,
                                           ivr_inputs={raw[:50]: raw}, ivr_path=[raw], outcome="failed"))
    await log.close()
    assert log.spooled_count() == 0 and log.dead_count() == 0
    rows = sql.rows(demo_url, "SELECT raw_ani, e164, customer_id FROM activities WHERE linkedid LIKE 'h%'")
    assert len(rows) == len(HOSTILE)
    assert all(e164 is None and customer is None for _raw, e164, customer in rows)
    assert all(raw is None or (len(raw) <= 40 and "\x00" not in raw) for raw, _e, _c in rows)
    assert sql.rows(demo_url, "SELECT count(*) FROM customers")[0][0] == 42


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.text(max_size=80), st.text(alphabet="0123456789+() -'\";%\\\x00", max_size=30)))
async def test_any_text_gives_a_view(store, raw):
    view = await store.lookup(raw)
    assert view.crm_available
    assert view.known == (view.ani.e164 in ("+905321234567", "+442071234567") or (
        view.ani.kind == "number" and view.customer_id is not None))
