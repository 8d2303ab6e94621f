"""Agent state history: the real ACD (real Redis, its Lua scripts) changes agents' states, the
recorder carries every change from the Redis stream into the real CRM (SQLite and
PostgreSQL), and windows are read back clipped. Time is the ACD's fake clock."""
import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from doubles import RecordingConnector
from waiting import wait_until

from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.service import Acd
from gateway.acd.state_log import GROUP, parse_entry
from gateway.crm.backend import CrmUnavailable
from gateway.crm.state_history import AgentStateHistory
from gateway.crm.state_periods import Window
from gateway.routing import RouteRequest

AGENTS = Path(__file__).resolve().parents[2] / "agents"
UTC = timezone.utc
BILLING = RouteRequest("billing", ("billing",), "tr", 2)
LATE_EVENING = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # the night shift starts; midnight is near


class Clock:
    def __init__(self, start: datetime = LATE_EVENING):
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def moment(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def acd(redis_client, clock):
    prefix = f"ctigw-test-{uuid.uuid4().hex[:12]}"
    roster = load_roster(AGENTS / "roster.yaml")
    acd = Acd(redis_client, roster, load_queue_config(AGENTS / "queues.yaml", roster=roster),
              connector=RecordingConnector(), key_prefix=prefix, clock=clock, instance="gw1")
    await acd.start(background=False)
    yield acd
    await acd.stop()
    async for key in redis_client.scan_iter(match="%s:*" % prefix, count=1000):
        await redis_client.delete(key)


@pytest.fixture
async def history(crm_url):
    history = AgentStateHistory.open(crm_url)
    yield history
    await history.close()


def recorder_for(acd, history, consumer="gw1", **options):
    options = {"block": 0.05, "retry_max": 0.2, **options}
    return acd.state_recorder(history, unavailable=(CrmUnavailable,), consumer=consumer, **options)


async def pending(acd) -> int:
    try:
        return (await acd.store.redis.xpending(acd.store.keys.agent_states, GROUP))["pending"]
    except Exception:  # no group yet: nothing has been read
        return 0


async def drain(recorder) -> None:
    """Write everything in the stream, pass by pass, as the running loop would."""
    while await recorder.pass_once():
        pass


def rows(sql, url, agent="1001"):
    return sql.rows(url, "SELECT state, reason, queue, call_id, started_at, ended_at, source_id, instance "
                         "FROM agent_state_periods WHERE agent_id = :agent ORDER BY source_id", agent=agent)


def as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def a_working_day(acd, clock):
    """login (not ready) -> ready -> a billing call rings, is answered, ends -> wrap-up ->
    not ready (lunch, asked for during the call) -> logout. Returns when each state began."""
    began = {}
    await acd.login("1001", ready=False)
    began["login"] = moment(clock)
    clock.advance(5)
    await acd.ready("1001")
    began["available"] = moment(clock)
    clock.advance(3)
    await acd.enqueue("c1", "PJSIP/carrier-c1", BILLING)  # booked at once: reserved
    began["reserved"] = moment(clock)
    clock.advance(1)
    await acd.agent_ringing("1001", "c1")
    began["ringing"] = moment(clock)
    clock.advance(4)
    await acd.agent_answered("1001", "c1")
    began["on_call"] = moment(clock)
    clock.advance(20)
    await acd.not_ready("1001", "lunch")  # during the call: kept for afterwards, no new period
    clock.advance(40)
    await acd.call_ended("c1")
    began["wrap_up"] = moment(clock)
    clock.advance(6)
    await acd.end_wrapup("1001")
    began["lunch"] = moment(clock)
    clock.advance(1800)
    await acd.logout("1001")
    began["logged_out"] = moment(clock)
    return began


async def test_a_working_day_becomes_periods_with_reasons_calls_and_queues(acd, clock, history, crm_url, sql):
    began = await a_working_day(acd, clock)  # nobody recording yet: the stream keeps it all
    await drain(recorder_for(acd, history))
    got = [(s, r, q, c, as_utc(start), end and as_utc(end), inst) for s, r, q, c, start, end, _, inst
           in rows(sql, crm_url)]
    b = began
    assert got == [
        ("not_ready", "login", None, None, b["login"], b["available"], "gw1"),
        ("available", None, None, None, b["available"], b["reserved"], "gw1"),
        ("reserved", None, "billing", "c1", b["reserved"], b["ringing"], "gw1"),
        ("ringing", None, "billing", "c1", b["ringing"], b["on_call"], "gw1"),
        ("on_call", None, "billing", "c1", b["on_call"], b["wrap_up"], "gw1"),
        ("wrap_up", None, "billing", "c1", b["wrap_up"], b["lunch"], "gw1"),
        ("not_ready", "lunch", None, None, b["lunch"], b["logged_out"], "gw1"),
        ("logged_out", None, None, None, b["logged_out"], None, "gw1"),  # current: open
    ]
    assert await pending(acd) == 0
    window = Window(b["login"] - timedelta(hours=1), b["login"] + timedelta(hours=5))
    assert await history.not_ready_by_reason(window, now=moment(clock)) == {"1001": {"login": 5.0, "lunch": 1800.0}}


async def test_an_entry_delivered_twice_is_written_once(acd, clock, history, crm_url, sql, redis_client):
    await acd.login("1001")
    clock.advance(60)
    await acd.not_ready("1001", "break")
    stream = acd.store.keys.agent_states
    # An instance reads both changes and writes them, then dies before acknowledging them.
    await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    reply = await redis_client.xreadgroup(GROUP, "gw-dead", {stream: ">"})
    await history.record([parse_entry(i, f) for i, f in reply[0][1]])
    assert await pending(acd) == 2
    # Another instance claims them (they have waited long enough) and writes them again.
    await drain(recorder_for(acd, history, consumer="gw2", claim_idle=0))
    assert await pending(acd) == 0
    assert [(s, r) for s, r, *_ in rows(sql, crm_url)] == [("available", None), ("not_ready", "break")]


async def test_entries_written_out_of_order_still_chain_into_periods(acd, clock, history, crm_url, sql):
    """Two recorders may commit an agent's changes in either order: the periods come out the same."""
    for reason in ("break", "training", "lunch"):
        await acd.login("1001")
        clock.advance(100)
        await acd.not_ready("1001", reason)
        clock.advance(50)
        await acd.logout("1001")
        clock.advance(10)
    changes = await acd.store.state_changes()
    assert len(changes) == 9
    for change in [changes[4], changes[8], changes[0], changes[6], changes[2], changes[7], changes[1], changes[5],
                   changes[3]]:
        await history.record([change])
    stored = rows(sql, crm_url)
    assert [(s, r) for s, r, *_ in stored] == [("available", None), ("not_ready", "break"), ("logged_out", None),
                                              ("available", None), ("not_ready", "training"), ("logged_out", None),
                                              ("available", None), ("not_ready", "lunch"), ("logged_out", None)]
    for (*_, end, _, _), (_, _, _, _, next_start, *_) in zip(stored, stored[1:]):
        assert as_utc(end) == as_utc(next_start)  # each period ends where the next begins
    assert stored[-1][5] is None


async def test_two_instances_recording_together_write_each_change_once(acd, clock, history, crm_url, sql):
    agents = ["1001", "1002", "1003", "1004"]
    first, second = recorder_for(acd, history, "gw1", batch=1), recorder_for(acd, history, "gw2", batch=1)
    first.start()
    second.start()
    try:
        for round_ in range(5):
            for agent in agents:
                await acd.login(agent)
                clock.advance(7)
                await acd.not_ready(agent, f"reason-{round_}")
                clock.advance(3)
                await acd.logout(agent)
                clock.advance(1)
        made = len(await acd.store.state_changes())
        assert made == 60
        await wait_until(lambda: sql.rows(crm_url, "SELECT count(*) FROM agent_state_periods")[0][0] == made,
                         timeout=60, what="every change written")
        assert await wait_until(lambda: _none_pending(acd), timeout=30, what="every entry acknowledged")
    finally:
        await first.stop()
        await second.stop()
    for agent in agents:
        stored = rows(sql, crm_url, agent)
        assert len(stored) == 15
        assert [r for _, r, *_ in stored if r] == [f"reason-{n}" for n in range(5)]
        assert [end is None for *_, end, _, _ in stored] == [False] * 14 + [True]
        for (*_, end, _, _), (_, _, _, _, next_start, *_) in zip(stored, stored[1:]):
            assert as_utc(end) == as_utc(next_start)


async def _none_pending(acd) -> bool:
    return await pending(acd) == 0


async def test_a_window_across_midnight_is_clipped_to_the_window(acd, clock, history):
    await acd.login("1001")  # 23:00
    clock.advance(50 * 60)
    await acd.not_ready("1001", "lunch")  # 23:50
    clock.advance(30 * 60)
    await acd.ready("1001")  # 00:20 the next day
    clock.advance(40 * 60)
    await acd.logout("1001")  # 01:00
    await drain(recorder_for(acd, history))
    now = moment(clock) + timedelta(hours=1)
    day1 = Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    day2 = Window(datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    spans = [(p.state, p.reason, p.started_at.strftime("%d %H:%M"), p.ended_at.strftime("%d %H:%M"))
             for p in await history.periods(day1, ["1001"], now=now)]
    assert spans == [("available", None, "01 23:00", "01 23:50"), ("not_ready", "lunch", "01 23:50", "02 00:00")]
    spans = [(p.state, p.reason, p.started_at.strftime("%d %H:%M"), p.ended_at.strftime("%d %H:%M"))
             for p in await history.periods(day2, ["1001"], now=now)]
    assert spans == [("not_ready", "lunch", "02 00:00", "02 00:20"), ("available", None, "02 00:20", "02 01:00"),
                     ("logged_out", None, "02 01:00", "02 02:00")]  # still logged out now
    assert await history.not_ready_by_reason(day1, now=now) == {"1001": {"lunch": 600.0}}
    assert await history.not_ready_by_reason(day2, now=now) == {"1001": {"lunch": 1200.0}}
    half_hour = Window(datetime(2026, 12, 1, 23, 45, tzinfo=UTC), datetime(2026, 12, 2, 0, 15, tzinfo=UTC))
    assert await history.not_ready_by_reason(half_hour, now=now) == {"1001": {"lunch": 1500.0}}
    assert await history.periods(day1, ["1002"], now=now) == []


async def test_recording_goes_on_after_the_acd_is_reset(acd, clock, history, crm_url, sql):
    """`ctigw acd reset` deletes every ACD key, the stream and its group among them."""
    count = lambda: sql.rows(crm_url, "SELECT count(*) FROM agent_state_periods")[0][0]  # noqa: E731
    recorder = recorder_for(acd, history)
    recorder.start()
    try:
        await acd.login("1001")
        await wait_until(lambda: count() == 1, timeout=30, what="the first change written")
        await acd.store.delete_everything()
        clock.advance(5)
        await acd.login("1002")
        await wait_until(lambda: count() == 2, timeout=30, what="a change after the reset written")
    finally:
        await recorder.stop()


async def test_a_bad_query_is_refused_plainly(history):
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an agent id"):
        await history.periods(Window(start, start + timedelta(hours=1)), agents=["1001", ""])


async def test_with_the_crm_down_changes_wait_in_redis_and_are_written_when_it_is_back(
        acd, clock, outage_crm, sql):
    outage, url = outage_crm
    history = AgentStateHistory.open(url)
    recorder = recorder_for(acd, history)
    try:
        await acd.login("1001")
        await drain(recorder)
        outage.stop()
        clock.advance(30)
        await acd.not_ready("1001", "lunch")
        clock.advance(900)
        await acd.ready("1001")
        with pytest.raises(CrmUnavailable):
            await recorder.pass_once()
        assert await pending(acd) == 2  # read, not written: kept in Redis
        clock.advance(60)
        await acd.logout("1001")  # not even read yet
        recorder.start()  # the running loop keeps trying
        await asyncio.sleep(0.5)
        outage.start()
        await wait_until(lambda: _none_pending(acd), timeout=60, what="the waiting changes written")
    finally:
        await recorder.stop()
        await history.close()
    stored = rows(sql, url)
    assert [(s, r) for s, r, *_ in stored] == [("available", None), ("not_ready", "lunch"), ("available", None),
                                              ("logged_out", None)]
    assert [(as_utc(e) - as_utc(s)).total_seconds() for _, _, _, _, s, e, *_ in stored[:3]] == [30, 900, 60]
