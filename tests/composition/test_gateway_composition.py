"""The whole gateway (gateway.app.Gateway) without Asterisk: its AMI client and FastAGI server
talk to the recorded byte streams (fake_asterisk.py), its ACD and desk to a real Redis, its
CRM to a real SQLite file with the demo customers. One call goes the whole way: IVR, queue,
connect, ring (screen pop), answer, hang-up, activity. Seconds, not the e2e tier's minutes,
and it catches what no unit test can: parts that work alone but are wired wrong.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import sqlite3
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from fake_asterisk import CALL, CHANNEL, FALLBACK, LINKEDID, UNIQUEID, AgiCaller, AmiReplay
from gateway.acd.states import AgentState
from gateway.app import Gateway
from gateway.config import Settings
from gateway.crm.demo_data import load_demo_data
from gateway.crm.migrate import upgrade_database
from waiting import wait_until

REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A Wednesday inside the main flow's office hours (Mon-Fri 09:00-18:00 Istanbul).
OFFICE_HOURS = dt.datetime(2026, 11, 25, 11, 0, tzinfo=ZoneInfo("Europe/Istanbul"))

# The recorded caller, +905321234567, is the demo CRM's Çağrı Öztürk: Turkish, gold tier, a
# repeat caller with an open case. Keys: 2 (not about the open case: main menu), 1 (billing).
KEYS = ["2", "1"]
AGENT = "1001"  # Turkish, billing: the one to get the call

# The agent's leg, from the capture where agent 1001 answered a call: that call's caller
# channel and ids become the recorded FastAGI call's.
_fallback_caller = FALLBACK.events("Newchannel")[0]
FALLBACK_CALLER = {
    key: value for key, value in (
        line.split(": ", 1) for line in _fallback_caller.decode().split("\r\n") if ": " in line)
    if key in ("Channel", "Uniqueid")}
AGENT_LEG_RENAME = {FALLBACK_CALLER["Uniqueid"]: UNIQUEID, FALLBACK_CALLER["Channel"]: CHANNEL}


def call_setup() -> list[bytes]:
    """The recorded call's events up to Asterisk starting the FastAGI script."""
    events = CALL.events(uniqueid=UNIQUEID)
    agi = next(i for i, f in enumerate(events) if b"Application: AGI" in f)
    return events[:agi + 1]


def agent_leg(*events: str) -> list[bytes]:
    return [f for f in FALLBACK.events(*events) if b"PJSIP/1001-" in f]


@pytest.fixture
async def ami():
    replay = AmiReplay("ctigw", secrets.token_urlsafe(12))
    await replay.start()
    yield replay
    await replay.stop()


def gateway_settings(ami, tmp_path) -> Settings:
    crm = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    upgrade_database(crm)
    load_demo_data(crm, customers=20, activities_per_customer=2)
    s = Settings()
    s.gateway.state_dir = str(tmp_path / "state")
    s.crm.url = crm
    s.redis.url = REDIS_URL
    s.redis.key_prefix = f"ctigw-composition-{secrets.token_hex(4)}"
    s.ami.port, s.ami.username, s.ami.secret, s.ami.auth = ami.port, ami.username, ami.secret, "plain"
    s.agi.port = 0
    s.acd.wrapup_seconds = 30
    return s


@pytest.fixture
async def gateway(ami, tmp_path):
    s = gateway_settings(ami, tmp_path)
    gw = Gateway(s, ivr_clock=lambda: OFFICE_HOURS)
    await gw.start()
    try:
        await gw.ami.wait_connected(10)
        yield gw
    finally:
        await gw.stop()
        client = aioredis.from_url(REDIS_URL)
        async for key in client.scan_iter(match=f"{s.redis.key_prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()


def activities(gw, linkedid: str) -> list[dict]:
    path = gw.settings.crm.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM activities WHERE linkedid = ?", (linkedid,))]


async def test_a_recorded_call_goes_through_ivr_queue_agent_and_crm(gateway, ami):
    gw = gateway
    await gw.acd.login(AGENT)
    desk = aioredis.from_url(REDIS_URL).pubsub()
    await desk.subscribe(f"{gw.settings.redis.key_prefix}:desk:{AGENT}")

    # The call arrives (AMI), and Asterisk runs the FastAGI script: the gateway's IVR.
    await ami.send_events(call_setup())
    caller = AgiCaller(KEYS)
    await caller.call(gw.agi.port)
    assert caller.commands[0] == 'GET FULL VARIABLE "${CHANNEL(linkedid)}"'
    assert caller.variables == {"CTIGW_OWNER": "gw1", "CTIGW_NEXT": "queue", "CTIGW_RESULT": "queue:billing"}

    # The ACD puts the caller through to the agent: AMI Redirect to the connect context.
    redirect = await wait_until(lambda: ami.actions_named("Redirect"), 10, "the Redirect to the agent")
    assert redirect[0]["Channel"] == CHANNEL and redirect[0]["Context"] == "ctigw-connect"
    assert redirect[0]["Exten"] == gw.acd.roster.agent(AGENT).endpoint

    # The agent's phone rings: the screen pop reaches the agent's desk channel on Redis.
    await ami.send_events(agent_leg("Newchannel", "DialBegin"), rename=AGENT_LEG_RENAME)
    pop = await wait_until(lambda: desk.get_message(ignore_subscribe_messages=True), 10, "the screen pop")
    pop = json.loads(pop["data"])
    assert (pop["kind"], pop["call_id"], pop["pop"]["caller"]["number_e164"], pop["pop"]["queue"]) == \
        ("offer", LINKEDID, "+905321234567", "billing")
    assert pop["pop"]["caller"]["name"] == "Çağrı Öztürk" and "main_menu" in pop["pop"]["ivr_path"]
    assert pop["pop"]["routing"]["rule"] in ("only_candidate", "first_free_agent")
    await desk.aclose()

    # The agent answers: on call in the ACD.
    await ami.send_events(agent_leg("DialEnd"), rename=AGENT_LEG_RENAME)
    status = await wait_until(
        lambda: _state_is(gw, AgentState.ON_CALL), 10, f"agent {AGENT} on the call")
    assert status.call_id == LINKEDID

    # The caller hangs up: one activity, the agent in wrap-up, nobody left in the queue.
    await ami.send_events(CALL.events("HangupRequest", "SoftHangupRequest", "Hangup", uniqueid=UNIQUEID))
    await ami.send_events(agent_leg("Hangup"), rename=AGENT_LEG_RENAME)
    rows = await wait_until(lambda: activities(gw, LINKEDID), 10, "the call's activity")
    assert len(rows) == 1
    row = rows[0]
    assert (row["outcome"], row["queue"], row["agent_id"]) == ("answered", "billing", AGENT)
    assert row["customer_id"] == pop["pop"]["caller"]["customer_id"]
    assert (await gw.acd.get_agent_state(AGENT)).state is AgentState.WRAP_UP
    assert (await gw.acd.queue_snapshot("billing")).waiting == ()


async def _state_is(gw, state):
    status = await gw.acd.get_agent_state(AGENT)
    return status if status.state is state else None


async def test_a_call_that_cannot_be_queued_gets_no_verdict_so_the_dialplan_falls_back(ami, tmp_path):
    """Redis gone when the IVR routes: saying `queue` would park the caller where no ACD looks."""
    s = gateway_settings(ami, tmp_path)
    s.redis.url = ""  # a private redis-server, so the test can take it away
    s.redis.socket_timeout = 1
    gw = Gateway(s, ivr_clock=lambda: OFFICE_HOURS, private_redis=True)
    await gw.start()
    try:
        await gw.ami.wait_connected(10)
        gw._local_redis.stop()
        await ami.send_events(call_setup())
        caller = AgiCaller(KEYS)
        await caller.call(gw.agi.port)
        assert caller.variables == {"CTIGW_OWNER": "gw1"}  # no CTIGW_NEXT: [ctigw-inbound] takes it to the fallback
        assert gw.tracker.calls[LINKEDID].queue_exit == "fallback"
    finally:
        await gw.stop()


async def test_the_gateway_serves_the_agent_desk_api_on_its_own_services(ami, tmp_path):
    """The desk's routes reach the gateway's ACD, CRM directory and wrap-ups (gateway/app.py wiring)."""
    import httpx

    from gateway.crm.migrate import sync_engine
    from gateway.web.accounts import AccountStore
    from web_testing import FAST_HASHER, sign_in

    s = gateway_settings(ami, tmp_path)
    s.http.token_secret, s.http.port = "composition-" + "s" * 20, 0
    s.acd.not_ready_reasons = s.acd.not_ready_reasons[:1]
    engine = sync_engine(s.crm_url)
    AccountStore(engine, hasher=FAST_HASHER).add("ayse", "a long password", role="agent", agent_id=AGENT)
    engine.dispose()
    gw = Gateway(s, ivr_clock=lambda: OFFICE_HOURS)
    await gw.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.api.port}", timeout=10) as ayse:
            assert (await sign_in(ayse, "ayse", "a long password")).status_code == 303
            session = await gw.api.app.state.services.sessions.get(ayse.cookies["ctigw_session"])
            ayse.headers["X-CSRF-Token"] = session.csrf_token
            me = (await ayse.get("/desk/api/me")).json()
            assert [r["code"] for r in me["not_ready_reasons"]] == ["break"]
            r = await ayse.post("/desk/api/state", json={"state": "ready"})
            assert r.json()["state"] == "available"
            assert (await gw.acd.get_agent_state(AGENT)).state is AgentState.AVAILABLE
            hits = (await ayse.get("/desk/api/customers", params={"q": "ÇAĞRI"})).json()["hits"]
            assert hits[0]["name"] == "Çağrı Öztürk"
            r = await ayse.get("/desk/api/calls/no-such-call/wrapup")
            assert (r.status_code, r.json()) == (403, {"error": "this call is not yours to wrap up"})
            r = await ayse.post("/desk/api/dial", json={"number": "not a number"})
            assert r.status_code == 400
    finally:
        await gw.stop()
