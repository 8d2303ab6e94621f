"""Caller lookup on SQLite and PostgreSQL: one view per caller, whatever form the number takes."""
import asyncio
import json
import socket
import time
from datetime import timedelta

import pytest

from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.backend import CrmUnavailable
from gateway.crm.models import utcnow
from gateway.crm.store import CrmStore
from gateway.crm.views import CallerView


@pytest.mark.parametrize("raw", [
    "05321234567", "+905321234567", "00905321234567", "905321234567", "0532 123 45 67", "(0532) 123-45-67",
    "sip:+905321234567@carrier",
])
async def test_cagri_in_any_number_form(store, raw):
    view = await store.lookup(raw)
    assert view.known and view.crm_available
    assert view.name == "Çağrı Öztürk"
    assert (view.language, view.tier, view.account_number) == ("tr", "gold", "12345678")
    assert view.ani.e164 == "+905321234567"


async def test_cagri_full_view(store):
    view = await store.lookup("05321234567")
    assert [c.subject for c in view.open_cases] == ["Fatura itirazı"]
    case = view.open_cases[0]
    assert (case.status, case.priority, case.owner) == ("open", "high", "1006")
    assert view.last_agent_id == "1006"
    assert view.calls_last_7_days == 2 and view.repeat_caller
    times = [a.occurred_at for a in view.recent_activities]
    assert times == sorted(times, reverse=True) and len(times) == 6
    assert view.lifetime_value is not None and str(view.lifetime_value) == "48750.00"
    data = json.loads(json.dumps(view.to_dict()))
    assert data["name"] == "Çağrı Öztürk" and data["open_cases"][0]["subject"] == "Fatura itirazı"
    assert data["ani"]["e164"] == "+905321234567" and data["lifetime_value"] == "48750.00"


@pytest.mark.parametrize("raw", ["+442071234567", "00442071234567", "442071234567"])
async def test_emily(store, raw):
    view = await store.lookup(raw)
    assert (view.name, view.language, view.tier, view.account_number) == ("Emily Clarke", "en", "silver", "87654321")
    assert view.open_cases == [] and not view.repeat_caller and view.calls_last_7_days == 0


async def test_only_the_last_twenty_activities(store, tmp_path):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    start = utcnow() - timedelta(days=30)
    for n in range(25):
        await log.record_call(CallActivity(linkedid=f"hist-{n}", raw_ani="+442071234567", outcome="answered",
                                           started_at=start + timedelta(hours=n), agent_id=f"a{n}"))
    await log.close()
    view = await store.lookup("+442071234567")
    assert len(view.recent_activities) == 20
    assert view.recent_activities[0].agent_id == "a24"
    assert view.last_agent_id == "a24"


async def test_repeat_caller_counts_inbound_calls_of_the_last_seven_days(store, tmp_path):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    now = utcnow()
    calls = [(now - timedelta(days=8), "inbound"), (now - timedelta(days=1), "outbound"),
             (now - timedelta(days=6), "inbound")]
    for n, (at, direction) in enumerate(calls):
        await log.record_call(CallActivity(linkedid=f"rc-{n}", raw_ani="+442071234567", direction=direction,
                                           outcome="answered", started_at=at))
    view = await store.lookup("+442071234567")
    assert (view.calls_last_7_days, view.repeat_caller) == (1, False)
    await log.record_call(CallActivity(linkedid="rc-9", raw_ani="00442071234567", outcome="abandoned_queue",
                                       started_at=now - timedelta(hours=1)))
    await log.close()
    view = await store.lookup("+442071234567")
    assert (view.calls_last_7_days, view.repeat_caller) == (2, True)


async def test_unknown_number(store, sql, demo_url):
    before = sql.counts(demo_url)
    view = await store.lookup("05329999999")
    assert not view.known and view.crm_available and not view.lead_created
    assert view.customer_id is None and view.language == "tr"
    assert view.ani.e164 == "+905329999999"
    assert sql.counts(demo_url) == before  # no lead unless configured


@pytest.mark.parametrize("raw, kind", [("anonymous", "anonymous"), ("Restricted", "withheld"), ("", "empty"),
                                       (None, "empty"), ("unknown", "unknown"), ("1001", "invalid")])
async def test_callers_without_a_number(store, raw, kind):
    view = await store.lookup(raw)
    assert view.ani.kind == kind and not view.known and view.crm_available and view.language is None


async def test_leads_for_unknown_callers_when_configured(demo_url, sql):
    store = await CrmStore.open(demo_url, create_leads=True)
    try:
        first = await store.lookup("+447400123456")
        assert first.lead_created and not first.known and first.customer_id is not None
        assert (first.tier, first.is_lead, first.language) == ("lead", True, "en")
        again = await store.lookup("+44 7400 123456")
        assert again.known and not again.lead_created and again.customer_id == first.customer_id
        assert again.is_lead and again.name is None
        # Calls from one new number at the same moment make one lead, not several.
        views = await asyncio.gather(*(store.lookup("05551112233") for _ in range(6)))
        assert sum(v.lead_created for v in views) == 1
        assert len({v.customer_id for v in views}) == 1
        withheld = await store.lookup("anonymous")
        assert not withheld.lead_created
    finally:
        await store.close()
    rows = sql.rows(demo_url, "SELECT count(*) FROM phone_numbers WHERE e164 IN ('+447400123456', '+905551112233')")
    assert rows == [(2,)]


async def test_self_service(store):
    cagri = await store.lookup("05321234567")
    assert await store.verify_account(cagri.customer_id, "12345678")
    assert await store.verify_account(cagri.customer_id, " 12345678 ")
    for wrong in ("87654321", "1234567", "", "12345678'; --", "1" * 10_000, None, 12345678):
        assert not await store.verify_account(cagri.customer_id, wrong)
    assert not await store.verify_account(999_999, "12345678")
    assert not await store.verify_account("1", "12345678")
    case = await store.case_status(cagri.customer_id)
    assert case.subject == "Fatura itirazı" and case.status == "open"
    emily = await store.find_by_account("87654321")
    assert emily.name == "Emily Clarke" and emily.known and emily.ani.kind == "empty"
    assert await store.case_status(emily.customer_id) is None
    assert await store.find_by_account("00000000") is None
    assert await store.find_by_account("x" * 1000) is None
    orders = await store.recent_orders(cagri.customer_id)
    assert [o.order_number for o in orders] == ["SP-000000002", "SP-000000001"]
    assert orders[0].to_dict()["total"] == "3499.00"


async def test_find_by_account_keeps_the_callers_number(store):
    view = await store.find_by_account("12345678", raw_ani="anonymous")
    assert view.name == "Çağrı Öztürk" and view.ani.kind == "anonymous"


async def test_an_unreachable_crm_gives_an_unknown_view_and_self_service_raises(tmp_path, caplog):
    store = await CrmStore.open(f"sqlite:///{tmp_path / 'missing' / 'crm.sqlite3'}")
    try:
        view = await store.lookup("05321234567")
        assert not view.known and not view.crm_available and view.ani.e164 == "+905321234567"
        assert view.to_dict()["crm_available"] is False
        await store.lookup("05321234568")
        assert caplog.text.count("CRM unavailable") == 1  # once per outage, not per call
        with pytest.raises(CrmUnavailable):
            await store.verify_account(1, "12345678")
        with pytest.raises(CrmUnavailable):
            await store.case_status(1)
    finally:
        await store.close()
    assert not (tmp_path / "missing").exists()  # opening never creates an empty CRM


@pytest.mark.postgres
async def test_postgres_nobody_listening(caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    store = await CrmStore.open(f"postgresql://postgres@127.0.0.1:{port}/crm")
    try:
        started = time.monotonic()
        view = await store.lookup("05321234567")
        assert not view.crm_available and not view.known
        assert time.monotonic() - started < 1.0
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_too_slow_is_unavailable_not_stuck(pg_url):
    # A table locked by someone else: the lookup gives up after its timeout.
    import psycopg

    store = await CrmStore.open(pg_url, lookup_timeout=0.3)
    try:
        with psycopg.connect(pg_url) as blocker:
            blocker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            view = await store.lookup("05321234567")
            assert not view.crm_available
            assert time.monotonic() - started < 1.0
        assert (await store.lookup("05321234567")).crm_available  # lock gone: back to normal
    finally:
        await store.close()


def test_views_are_plain_data():
    from gateway.crm.numbers import classify_ani

    view = CallerView(ani=classify_ani("anonymous", "TR"))
    assert view.to_dict()["ani"] == {"kind": "anonymous", "e164": None, "display": "anonymous", "region": None}
