"""The agent's wrap-up through gateway.desk.wrapup, on the real ACD (Redis) and the real CRM
(SQLite and PostgreSQL): it lands in the call's one activity, with its case, and only the
call's own agent may write it."""
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.acd.errors import AgentStateError
from gateway.routing import RouteRequest
from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.service import Acd
from gateway.acd.states import AgentState
from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.backend import CrmUnavailable
from gateway.crm.demo_data import CAGRI_NUMBER
from gateway.crm.directory import CustomerDirectory
from gateway.desk.wrapup import MAX_NOTES, NotYourCall, OpenCase, UpdateCase, WrapupError, WrapupService

REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AGENTS = Path(__file__).resolve().parents[2] / "agents"
BILLING = RouteRequest("billing", ("billing",), "tr", 2)  # optional wrap-up
COMPLAINTS = RouteRequest("complaints", ("complaints",), "tr")  # mandatory, 30 s, no_disposition
HOSTILE_NOTES = [
    "<img src=x onerror=alert(1)>",
    "'); DELETE FROM activities; --",
    "Müşteri: “faturada İ/ı karışıklığı” 🙂\nikinci satır\tsekme",
]


class Clock:
    def __init__(self):
        self.now = 1_764_000_000.0

    def __call__(self):
        return self.now


class Connector:
    async def connect(self, call, agent):
        pass


@pytest.fixture
async def acd():
    redis = aioredis.from_url(REDIS_URL)
    prefix = f"ctigw-test-{uuid.uuid4().hex[:12]}"
    roster = load_roster(AGENTS / "roster.yaml")
    acd = Acd(redis, roster, load_queue_config(AGENTS / "queues.yaml", roster=roster), connector=Connector(),
              key_prefix=prefix, clock=Clock())
    await acd.start(background=False)
    yield acd
    await acd.stop()
    async for key in redis.scan_iter(match="%s:*" % prefix, count=1000):
        await redis.delete(key)
    await redis.aclose()


@pytest.fixture
async def crm(demo_url, store, tmp_path):
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    directory = await CustomerDirectory.open(demo_url, region="TR")
    yield log, directory
    await directory.close()
    await log.close()


@pytest.fixture
def wrapups(acd, crm):
    service = WrapupService(acd, *crm)
    service.attach()
    return service


async def finished_call(acd, log, *, linkedid="1764000000.7", agent="1001", route=BILLING, raw_ani=CAGRI_NUMBER):
    """A call answered by `agent` and hung up: the tracker's activity written, the agent in wrap-up."""
    await acd.login(agent)
    await acd.enqueue(linkedid, "PJSIP/in-1", route)
    await acd.agent_answered(agent, linkedid)
    await log.record_call(CallActivity(linkedid=linkedid, raw_ani=raw_ani, outcome="answered", agent_id=agent,
                                       queue=route.queue, started_at=datetime.now(timezone.utc)))
    await acd.call_ended(linkedid)
    assert (await acd.get_agent_state(agent)).state is AgentState.WRAP_UP
    return linkedid


def activity(sql, url, linkedid):
    rows = sql.rows(url, "SELECT customer_id, agent_id, outcome, disposition, notes, case_id FROM activities "
                         "WHERE linkedid = :l", l=linkedid)
    assert len(rows) == 1  # the call's one activity, whatever was written to it
    return rows[0]


async def test_the_wrapup_lands_in_the_calls_one_activity_with_the_case_update(
        acd, crm, wrapups, sql, demo_url):
    log, directory = crm
    linkedid = await finished_call(acd, log)
    form = await wrapups.form("1001", linkedid)
    (dispute,) = form.open_cases
    assert (form.mode, form.customer_id, dispute.subject) == ("optional", 1, "Fatura itirazı")
    assert "resolved" in [d["code"] for d in form.to_dict("tr")["dispositions"]]

    result = await wrapups.save("1001", linkedid, "resolved", "İade yapıldı, müşteri bilgilendirildi",
                                UpdateCase(dispute.id, status="resolved"))
    assert (result.spooled, result.case.status, result.agent_state) == (False, "resolved", "available")
    assert activity(sql, demo_url, linkedid) == (1, "1001", "answered", "resolved",
                                                 "İade yapıldı, müşteri bilgilendirildi", dispute.id)
    assert await directory.open_cases(1) == []
    latest = (await directory.customer_view(1)).activities.to_dict()["items"][0]  # the customer's history
    assert (latest["disposition"], latest["notes"], latest["case_id"]) == (
        "resolved", "İade yapıldı, müşteri bilgilendirildi", dispute.id)


async def test_opening_a_new_case_from_the_wrapup(acd, crm, wrapups, sql, demo_url):
    log, directory = crm
    linkedid = await finished_call(acd, log)
    result = await wrapups.save("1001", linkedid, "follow_up", None, OpenCase("Modem arızası", priority="high"))
    assert (result.case.subject, result.case.owner, result.case.priority) == ("Modem arızası", "1001", "high")
    assert activity(sql, demo_url, linkedid)[3:] == ("follow_up", None, result.case.id)


async def test_only_the_calls_own_agent_may_wrap_it_up(acd, crm, wrapups, sql, demo_url):
    log, _ = crm
    linkedid = await finished_call(acd, log)
    await acd.login("1002")
    for who, call in (("1002", linkedid), ("1001", "1764000000.999"), ("1001", "x" * 10_000)):
        with pytest.raises(NotYourCall):
            await wrapups.save(who, call, "resolved", "not mine")
        with pytest.raises(NotYourCall):
            await wrapups.form(who, call)
    assert activity(sql, demo_url, linkedid)[3:5] == (None, None)


async def test_the_agent_may_correct_the_wrapup_after_wrapup_time(acd, crm, wrapups, sql, demo_url):
    log, _ = crm
    linkedid = await finished_call(acd, log)
    await wrapups.save("1001", linkedid, "follow_up", "ilk not")
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    await wrapups.save("1001", linkedid, "resolved", "düzeltilmiş not")  # the CRM says it is theirs
    assert activity(sql, demo_url, linkedid)[3:5] == ("resolved", "düzeltilmiş not")


@pytest.mark.parametrize("disposition", ["made_up", "", None, "resolved; DROP TABLE activities", "x" * 10_000])
async def test_a_disposition_outside_the_queues_list_is_refused(acd, crm, wrapups, disposition):
    linkedid = await finished_call(acd, crm[0])
    with pytest.raises(WrapupError, match="not a disposition of queue billing"):
        await wrapups.save("1001", linkedid, disposition, "note")
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP  # nothing saved, still wrapping up


@pytest.mark.parametrize("notes", HOSTILE_NOTES)
async def test_hostile_notes_are_kept_as_data(acd, crm, wrapups, sql, demo_url, notes):
    linkedid = await finished_call(acd, crm[0])
    await wrapups.save("1001", linkedid, "resolved", notes)
    assert activity(sql, demo_url, linkedid)[4] == notes
    assert sql.counts(demo_url)["activities"] > 100  # nothing was deleted


@pytest.mark.parametrize("notes, message", [("x" * (MAX_NOTES + 1), "longer than 4000"),
                                            ("a\x00b", "control characters"), ("\x1b[2J", "control characters"),
                                            (b"bytes", "text")])
async def test_notes_that_cannot_be_kept_are_refused(acd, crm, wrapups, notes, message):
    linkedid = await finished_call(acd, crm[0])
    with pytest.raises(WrapupError, match=message):
        await wrapups.save("1001", linkedid, "resolved", notes)


async def test_notes_at_the_limit_are_kept_whole(acd, crm, wrapups, sql, demo_url):
    linkedid = await finished_call(acd, crm[0])
    await wrapups.save("1001", linkedid, "resolved", "ş" * MAX_NOTES)
    assert activity(sql, demo_url, linkedid)[4] == "ş" * MAX_NOTES


async def test_a_case_of_another_customer_or_for_an_unknown_caller_is_refused(acd, crm, wrapups, sql, demo_url):
    log, directory = crm
    emily_case = (await directory.open_case(2, "Emily's case")).id
    linkedid = await finished_call(acd, log)
    with pytest.raises(WrapupError, match="no open case"):
        await wrapups.save("1001", linkedid, "resolved", None, UpdateCase(emily_case, status="closed"))
    unknown = await finished_call(acd, log, linkedid="1764000000.8", agent="1002", raw_ani="+905559876543")
    with pytest.raises(WrapupError, match="not a customer yet"):
        await wrapups.save("1002", unknown, "resolved", None, OpenCase("Yeni"))
    assert activity(sql, demo_url, linkedid)[3] is None


async def test_an_unknown_caller_created_as_a_customer_then_gets_their_case(acd, crm, wrapups, sql, demo_url):
    log, directory = crm
    linkedid = await finished_call(acd, log, raw_ani="05559876543")
    customer_id = await directory.create_customer("Ayşe Işık", "tr", "05559876543", linkedid=linkedid)
    result = await wrapups.save("1001", linkedid, "follow_up", "yeni müşteri", OpenCase("İlk talep"))
    assert activity(sql, demo_url, linkedid)[0] == customer_id
    assert [c.id for c in await directory.open_cases(customer_id)] == [result.case.id]


async def test_a_mandatory_wrapup_ends_only_with_a_disposition(acd, crm, wrapups, sql, demo_url):
    linkedid = await finished_call(acd, crm[0], agent="1013", route=COMPLAINTS)
    assert (await wrapups.form("1013", linkedid)).mode == "mandatory"
    with pytest.raises(AgentStateError, match="mandatory"):
        await wrapups.end_wrapup("1013")
    result = await wrapups.save("1013", linkedid, "escalated", "üst birime iletildi")
    assert result.agent_state == "available"
    acd.clock.now += 60
    await acd.tick()
    assert activity(sql, demo_url, linkedid)[3] == "escalated"


async def test_a_mandatory_wrapup_that_runs_out_records_the_timeout_disposition(acd, crm, wrapups, sql, demo_url):
    linkedid = await finished_call(acd, crm[0], agent="1013", route=COMPLAINTS)
    acd.clock.now += 30
    await acd.tick()
    assert (await acd.get_agent_state("1013")).state is AgentState.AVAILABLE
    assert activity(sql, demo_url, linkedid)[1:4] == ("1013", "answered", "no_disposition")
    # Saved later (the agent's form was still open): the agent's own disposition replaces it.
    await wrapups.save("1013", linkedid, "resolved", "geç kaydedildi")
    assert activity(sql, demo_url, linkedid)[3] == "resolved"


async def test_a_late_timeout_never_overwrites_a_saved_disposition(acd, crm, wrapups, sql, demo_url):
    log, _ = crm
    linkedid = await finished_call(acd, log, agent="1013", route=COMPLAINTS)
    await wrapups.save("1013", linkedid, "resolved", None, finish=False)
    await log.add_timeout_disposition(linkedid, "1013", "no_disposition")  # the timer raced the save
    assert activity(sql, demo_url, linkedid)[3] == "resolved"


async def test_with_the_crm_down_the_wrapup_is_spooled_and_written_when_it_is_back(acd, outage_crm, tmp_path, sql):
    from gateway.crm.store import CrmStore

    outage, url = outage_crm
    store = await CrmStore.open(url, region="TR")
    log = ActivityLog(store, tmp_path / "spool.sqlite3", retry_initial=0.05)
    directory = await CustomerDirectory.open(url, region="TR")
    wrapups = WrapupService(acd, log, directory)
    try:
        linkedid = await finished_call(acd, log)
        (dispute,) = await directory.open_cases(1)
        outage.stop()
        result = await wrapups.save("1001", linkedid, "follow_up", "CRM kapalıyken", UpdateCase(dispute.id))
        assert (result.spooled, result.case, result.agent_state) == (True, None, "available")
        assert "case was not saved" in result.case_error
        with pytest.raises(CrmUnavailable):  # no longer wrapping it up: only the CRM can tell whose it is
            await wrapups.save("1001", linkedid, "resolved", "again")
        outage.start()
        await log.flush()
        assert log.spooled_count() == 0
        rows = sql.rows(url, "SELECT disposition, notes FROM activities WHERE linkedid = :l", l=linkedid)
        assert rows == [("follow_up", "CRM kapalıyken")]
    finally:
        await directory.close()
        await log.close()
        await store.close()


async def test_a_spooled_timeout_disposition_never_replaces_the_agents_own(outage_crm, tmp_path, sql):
    from gateway.crm.store import CrmStore

    outage, url = outage_crm
    store = await CrmStore.open(url, region="TR")
    log = ActivityLog(store, tmp_path / "spool.sqlite3", retry_initial=0.05)
    try:
        outage.stop()
        await log.record_call(CallActivity(linkedid="1764000000.9", raw_ani=CAGRI_NUMBER, outcome="answered",
                                           agent_id="1013", queue="complaints"))
        await log.add_wrapup("1764000000.9", "1013", "resolved", "kaydedildi")
        await log.add_timeout_disposition("1764000000.9", "1013", "no_disposition")
        await log.add_timeout_disposition("1764000000.10", "1013", "no_disposition")  # a call nobody disposed
        assert log.spooled_count() == 4
        outage.start()
        await log.flush()
        rows = sql.rows(url, "SELECT linkedid, disposition FROM activities WHERE agent_id = '1013' ORDER BY linkedid")
        assert rows == [("1764000000.10", "no_disposition"), ("1764000000.9", "resolved")]
    finally:
        await log.close()
        await store.close()


async def test_a_disposition_saved_during_the_call_lets_the_agent_end_a_mandatory_wrapup(acd, crm, wrapups):
    log, _ = crm
    await acd.login("1013")
    await acd.enqueue("1764000000.11", "PJSIP/in-1", COMPLAINTS)
    await acd.agent_answered("1013", "1764000000.11")
    await log.record_call(CallActivity(linkedid="1764000000.11", raw_ani=CAGRI_NUMBER, agent_id="1013",
                                       queue="complaints"))
    result = await wrapups.save("1013", "1764000000.11", "escalated", "görüşme sırasında yazıldı")
    assert result.agent_state == "on_call"  # saving during the call does not end it
    await acd.call_ended("1764000000.11")
    assert (await wrapups.end_wrapup("1013")).state is AgentState.AVAILABLE
