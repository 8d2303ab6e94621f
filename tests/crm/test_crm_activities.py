"""The call activity log on SQLite and PostgreSQL: one activity per linkedid, whatever happens."""
import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from gateway.crm.activities import MASK, ActivityLog, CallActivity
from gateway.routing import RouteRequest

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
async def log(store, tmp_path):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    yield log
    await log.close()


def call(**fields) -> CallActivity:
    fields.setdefault("linkedid", "1763631000.42")
    fields.setdefault("raw_ani", "05321234567")
    fields.setdefault("dnis", "4440000")
    fields.setdefault("started_at", T0)
    return CallActivity(**fields)


def activity_rows(sql, url, linkedid):
    return sql.rows(url, "SELECT id, customer_id, outcome, agent_id, answered_at, ended_at, wait_seconds, "
                         "talk_seconds, queue, disposition, notes, case_id, e164 FROM activities "
                         "WHERE linkedid = :l", l=linkedid)


async def test_writing_a_call_twice_makes_one_activity(log, sql, demo_url):
    first = await log.record_call(call(outcome="answered", agent_id="agent007", queue="billing"))
    second = await log.record_call(call(outcome="answered", agent_id="agent007", queue="billing"))
    assert first == second
    rows = activity_rows(sql, demo_url, "1763631000.42")
    assert len(rows) == 1
    assert rows[0][1] == 1 and rows[0][12] == "+905321234567"  # Çağrı, found by the number


async def test_a_later_write_with_more_information_updates_it(log, sql, demo_url):
    await log.record_call(call(queue="billing", wait_seconds=12))  # the phone rang, no outcome yet
    await log.record_call(call(outcome="answered", agent_id="agent007", answered_at=T0 + timedelta(seconds=20),
                               ended_at=T0 + timedelta(minutes=5), talk_seconds=280))
    (row,) = activity_rows(sql, demo_url, "1763631000.42")
    _id, _customer, outcome, agent, answered, ended, wait, talk, queue, *_ = row
    assert (outcome, agent, wait, talk, queue) == ("answered", "agent007", 12.0, 280.0, "billing")
    assert answered is not None and ended is not None  # the earlier write's NULLs were filled in


async def test_nulls_never_erase(log, sql, demo_url):
    await log.record_call(call(outcome="answered", agent_id="agent007", queue="billing", ivr_path=["main"]))
    await log.record_call(call())  # an older, emptier write replayed late
    (row,) = activity_rows(sql, demo_url, "1763631000.42")
    assert (row[2], row[3], row[8]) == ("answered", "agent007", "billing")


async def test_concurrent_writes_of_one_call_make_one_row(log, sql, demo_url):
    await asyncio.gather(*(log.record_call(call(outcome="answered", talk_seconds=n)) for n in range(20)))
    assert len(activity_rows(sql, demo_url, "1763631000.42")) == 1


async def test_wrapup_after_the_call(log, sql, demo_url, store):
    case = await store.case_status(1)
    await log.record_call(call(outcome="answered", agent_id="agent007"))
    await log.add_wrapup("1763631000.42", "agent007", "resolved", "Fatura düzeltildi", case_id=case.id)
    (row,) = activity_rows(sql, demo_url, "1763631000.42")
    assert (row[2], row[9], row[10], row[11]) == ("answered", "resolved", "Fatura düzeltildi", case.id)


async def test_wrapup_before_the_call_is_not_lost(log, sql, demo_url):
    await log.add_wrapup("1763631000.42", "agent007", "callback", "geri aranacak")
    await log.record_call(call(outcome="answered", agent_id="agent009", queue="billing"))
    (row,) = activity_rows(sql, demo_url, "1763631000.42")
    assert (row[2], row[8], row[9], row[10]) == ("answered", "billing", "callback", "geri aranacak")
    assert row[3] == "agent009"  # the call's own agent wins over the wrap-up stub's


async def test_wrapup_with_an_unknown_case_keeps_the_rest(log, sql, demo_url):
    await log.record_call(call(outcome="answered"))
    await log.add_wrapup("1763631000.42", "agent007", "resolved", "ok", case_id=987_654)
    (row,) = activity_rows(sql, demo_url, "1763631000.42")
    assert (row[9], row[11]) == ("resolved", None)


async def test_sensitive_inputs_are_masked_in_the_database(log, sql, demo_url):
    await log.record_call(call(outcome="answered", ivr_path=["language", "main", "billing"],
                               ivr_inputs={"pin": "4321", "menu": "2", "dogum_yili": "1980"},
                               sensitive_keys=frozenset({"dogum_yili"}),
                               route=RouteRequest("billing", ("billing",), "tr", 7)))
    ((inputs, path, route),) = sql.rows(demo_url, "SELECT ivr_inputs, ivr_path, route FROM activities "
                                                  "WHERE linkedid = '1763631000.42'")
    decode = (lambda v: json.loads(v) if isinstance(v, str) else v)
    assert decode(inputs) == {"pin": MASK, "menu": "2", "dogum_yili": MASK}
    assert decode(path) == ["language", "main", "billing"]
    assert decode(route) == {"queue": "billing", "skills": ["billing"], "language": "tr", "priority": 7}


async def test_unknown_callers_and_stale_customer_ids(log, sql, demo_url):
    await log.record_call(call(linkedid="u1", raw_ani="anonymous", outcome="abandoned_ivr"))
    await log.record_call(call(linkedid="u2", raw_ani="05329999999", outcome="voicemail"))
    await log.record_call(call(linkedid="u3", raw_ani="05321234567", customer_id=999_999, outcome="callback"))
    await log.record_call(call(linkedid="u4", raw_ani="anonymous", customer_id=2, outcome="answered"))
    rows = dict(sql.rows(demo_url, "SELECT linkedid, customer_id FROM activities WHERE linkedid LIKE 'u%'"))
    assert rows == {"u1": None, "u2": None, "u3": 1, "u4": 2}
    assert log.dead_count() == 0


async def test_the_screen_pop_sees_the_call(log, store):
    await log.record_call(call(outcome="answered", agent_id="agent042", started_at=datetime.now(timezone.utc)))
    view = await store.lookup("05321234567")
    assert view.recent_activities[0].agent_id == "agent042"
    assert view.recent_activities[0].summary.startswith("Inbound call: answered")
    assert view.last_agent_id == "agent042" and view.calls_last_7_days == 3


async def test_invalid_activities_are_refused_up_front(log):
    with pytest.raises(ValueError):
        await log.record_call(call(outcome="exploded"))
    with pytest.raises(ValueError):
        await log.record_call(call(linkedid=""))
    assert log.spooled_count() == 0


async def test_a_transferred_call_is_one_activity_naming_every_agent_and_the_note(log, sql, demo_url):
    note = "Fatura itirazı: <b>ödeme</b> iki kez alındı'; DROP TABLE activities; --"
    transfers = [{"from_agent": "1001", "to_queue": "support", "to_agent": None, "note": note,
                  "at": T0 + timedelta(minutes=2)}]
    await log.record_call(call(outcome="transferred", agent_id="1004", queue="support", transfers=transfers))
    (summary,) = sql.rows(demo_url, "SELECT summary FROM activities WHERE linkedid = :l", l="1763631000.42")[0]
    await log.record_call(call(outcome="transferred", agent_id="1004", queue="support"))  # a replay without them
    (row,) = sql.rows(demo_url, "SELECT agent_id, transfers FROM activities WHERE linkedid = :l",
                      l="1763631000.42")
    stored = row[1] if isinstance(row[1], list) else json.loads(row[1])
    assert stored == [{"from_agent": "1001", "to_queue": "support", "to_agent": None, "note": note,
                       "at": (T0 + timedelta(minutes=2)).isoformat()}]
    assert row[0] == "1004" and "transferred by 1001" in summary


async def test_an_outbound_call_keeps_its_direction(log, sql, demo_url):
    await log.record_call(call(direction="outbound", outcome="no_answer", agent_id="1001", raw_ani="+905321234567"))
    (row,) = sql.rows(demo_url, "SELECT direction, outcome, customer_id FROM activities WHERE linkedid = :l",
                      l="1763631000.42")
    assert tuple(row) == ("outbound", "no_answer", 1)
