"""Issue #5 end to end: the ACD routes calls through the real Asterisk to pjsua2 agent
phones (roster: agents/roster.yaml, queues: agents/queues.yaml)."""
from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request

import pytest

import redis.asyncio as aioredis

from gateway.acd.states import AgentState
from gateway.api import issue_token
from gateway_harness import (REDIS_URL, activities, at_node, crm_db, ended_call, gateway, live_call,  # noqa: F401
                             prompts, wait_for)


def new_number() -> str:
    return f"+90555{random.randrange(10**7):07d}"


async def log_in(gw, *agent_ids: str, gap: float = 0.3):
    """Log agents in one after the other: the first has been idle longest."""
    for agent_id in agent_ids:
        await gw.acd.login(agent_id)
        await asyncio.sleep(gap)


async def billing_call_in_turkish(gw, phones, number: str, *, keep_waiting: bool = False):
    """An unknown caller who picks Türkçe, then billing (1)."""
    call = await phones.call("100", caller_id=number)
    await at_node(gw, number, "language")
    await call.send_digits("1")
    await at_node(gw, number, "main_menu")
    await call.send_digits("1")
    if keep_waiting:  # the long-queue call-back offer: say nothing, keep waiting
        await at_node(gw, number, "offer")
    return call


async def state_of(gw, agent_id):
    return await gw.acd.get_agent_state(agent_id)


async def until_state(gw, agent_id, state, timeout: float = 10):
    """The agent's state once it is `state` (AMI events reach the gateway a moment after
    the phone itself knows)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (status := await state_of(gw, agent_id)).state is not state:
        if loop.time() > deadline:
            raise AssertionError(f"agent {agent_id} is {status.state.value}, not {state.value}")
        await asyncio.sleep(0.05)
    return status


async def test_turkish_billing_call_goes_to_the_most_proficient_turkish_billing_agent(gateway, crm_db, phones):
    phones_by_id = {a: await phones.register_agent(a, answer_after=1.0) for a in ("1001", "1002", "1003")}
    pubsub = aioredis.from_url(REDIS_URL).pubsub()
    await pubsub.subscribe(f"{gateway.settings.redis.key_prefix}:desk:1001")
    # 1003 (English only, billing 9) has been idle longest; 1002 speaks Turkish, billing 5.
    await log_in(gateway, "1003", "1002", "1001")
    number = new_number()
    call = await billing_call_in_turkish(gateway, phones, number)
    await phones_by_id["1001"].wait_answered(30)
    message = await wait_for_message(pubsub, 10)
    pop = message["pop"]
    assert message["kind"] == "offer" and pop["caller"]["number_e164"] == number
    assert pop["queue"] == "billing" and "main_menu" in pop["ivr_path"]
    assert pop["routing"]["rule"] == "best_proficiency" and pop["routing"]["proficiency"] == {"billing": 9}
    connected = live_call(gateway, number)
    assert connected.agent_id == "1001"
    await until_state(gateway, "1001", AgentState.ON_CALL)
    assert (await state_of(gateway, "1003")).state is AgentState.AVAILABLE
    await asyncio.sleep(1.5)
    await call.hangup()
    ended = await ended_call(gateway, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "answered" and row["agent_id"] == "1001" and row["queue"] == "billing"
    assert row["talk_seconds"] >= 1.0 and row["wait_seconds"] >= 0
    await until_state(gateway, "1001", AgentState.WRAP_UP)
    await pubsub.aclose()


async def wait_for_message(pubsub, timeout: float) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            return json.loads(message["data"])
    raise AssertionError("no screen pop published")


async def test_among_equally_skilled_agents_the_longest_idle_gets_the_call(gateway, phones):
    # 1001 and 1006 both have general 6 and speak Turkish; 1006 logs in first.
    agents = {a: await phones.register_agent(a, answer_after=1.0) for a in ("1001", "1006")}
    await log_in(gateway, "1006", "1001")
    number = new_number()
    call = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await call.send_digits("1")
    await at_node(gateway, number, "main_menu")
    await call.send_digits("0")  # an agent: queue general
    await agents["1006"].wait_answered(30)
    assert live_call(gateway, number).agent_id == "1006"
    assert (await state_of(gateway, "1001")).state is AgentState.AVAILABLE
    await call.hangup()


async def test_ring_no_answer_reroutes_to_the_next_agent_and_the_first_goes_not_ready(gateway, crm_db, phones):
    silent = await phones.register_agent("1001", answer_after=None)  # rings, nobody answers
    backup = await phones.register_agent("1002", answer_after=1.0)
    await log_in(gateway, "1002", "1001")
    number = new_number()
    call = await billing_call_in_turkish(gateway, phones, number)
    await silent.wait_ringing(30)
    await backup.wait_answered(gateway.settings.acd.ring_timeout + 30)
    status = await until_state(gateway, "1001", AgentState.NOT_READY)
    assert status.reason == "RONA"
    assert live_call(gateway, number).agent_id == "1002"
    assert live_call(gateway, number).rona_agents == ["1001"]
    await call.hangup()
    ended = await ended_call(gateway, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "answered" and row["agent_id"] == "1002"


async def test_a_caller_who_hangs_up_while_waiting_leaves_no_trace_in_the_queue(gateway, crm_db, phones):
    number = new_number()  # nobody is logged in: the caller waits
    call = await billing_call_in_turkish(gateway, phones, number, keep_waiting=True)
    waiting = await wait_for(lambda: (c := live_call(gateway, number)) and c.queue and c, 30, "queued")
    snapshot = await gateway.acd.queue_snapshot("billing")
    assert [w.call_id for w in snapshot.waiting] == [waiting.linkedid]
    await call.hangup()
    ended = await ended_call(gateway, number)
    snapshot = await gateway.acd.queue_snapshot("billing")
    assert snapshot.waiting == ()
    client = aioredis.from_url(REDIS_URL)
    leftovers = [k async for k in client.scan_iter(f"{gateway.settings.redis.key_prefix}:*{ended.linkedid}*")]
    assert leftovers == []
    for key in [k async for k in client.scan_iter(f"{gateway.settings.redis.key_prefix}:*")]:
        kind = await client.type(key)
        if kind == b"zset":
            assert await client.zscore(key, ended.linkedid) is None, key
        elif kind == b"hash":
            assert not await client.hexists(key, ended.linkedid), key
    await client.aclose()
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "abandoned_queue"


async def test_two_calls_one_agent_the_second_waits_with_music_then_connects_after_wrap_up(
        gateway, phones, ami_probe):
    agent = await phones.register_agent("1001", answer_after=1.0)
    await log_in(gateway, "1001")
    first, second = new_number(), new_number()
    call_a = await billing_call_in_turkish(gateway, phones, first)
    await agent.wait_answered(30)
    call_b = await billing_call_in_turkish(gateway, phones, second, keep_waiting=True)
    waiting = await wait_for(lambda: (c := live_call(gateway, second)) and c.queue and c, 30, "second queued")
    await call_a.hangup()
    await wait_for(lambda: [c for c in gateway.tracker.ended if c.raw_ani == first], 15, "first call over")
    await until_state(gateway, "1001", AgentState.WRAP_UP)
    await asyncio.sleep(2)  # wrap-up: the waiting call must not be offered yet
    assert live_call(gateway, second).agent_id is None
    # The waiting caller hears music on hold (after their first position announcement).
    await wait_for(lambda: [e for e in ami_probe.events if e.get("Event") == "MusicOnHoldStart"
                            and e.get("Uniqueid") == waiting.caller_uniqueid], 30, "music on hold")
    assert live_call(gateway, second).agent_id is None  # still not offered during wrap-up
    await gateway.acd.end_wrapup("1001")
    await agent.wait_answered(30)
    assert live_call(gateway, second).agent_id == "1001"
    await call_b.hangup()


async def test_a_caller_who_hangs_up_while_the_agent_phone_rings_frees_the_agent_at_once(gateway, crm_db, phones):
    ringing_only = await phones.register_agent("1001", answer_after=None)
    await log_in(gateway, "1001")
    number = new_number()
    call = await billing_call_in_turkish(gateway, phones, number)
    await ringing_only.wait_ringing(30)
    await until_state(gateway, "1001", AgentState.RINGING)
    await call.hangup()
    status = await until_state(gateway, "1001", AgentState.AVAILABLE)  # not RONA, no wrap-up
    assert status.reason == "" and status.call_id == ""
    assert (await gateway.acd.queue_snapshot("billing")).waiting == ()
    ended = await ended_call(gateway, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "abandoned_queue"


async def test_a_waiting_caller_hears_position_and_wait_then_music_again(gateway, phones, ami_probe):
    number = new_number()  # nobody is logged in: the caller waits, first in line
    call = await billing_call_in_turkish(gateway, phones, number, keep_waiting=True)
    waiting = await wait_for(lambda: (c := live_call(gateway, number)) and c.queue and c, 30, "queued")

    def on_channel(name, **match):
        return [e for e in ami_probe.events if e.get("Event") == name and e.get("Uniqueid") == waiting.caller_uniqueid
                and all(e.get(k) == v for k, v in match.items())]

    await wait_for(lambda: on_channel("Newexten", Context="ctigw-announce"), 15, "the announcement")
    assert on_channel("VarSet", Variable="CTIGW_POSITION", Value="1")
    assert not [e for e in ami_probe.events if e.get("Event") == "Newexten" and e.get("Context") == "ctigw-announce"
                and e.get("Application") == "Playback" and e.get("Uniqueid") != waiting.caller_uniqueid]
    moh_before = len(on_channel("MusicOnHoldStart"))
    await wait_for(lambda: len(on_channel("MusicOnHoldStart")) > moh_before, 30, "music again after it")
    assert live_call(gateway, number).queue == "billing"  # still waiting, still in the queue
    await call.hangup()


@pytest.fixture
def api_secret(rig_settings):
    """Turn the gateway's HTTP API on (listed before `gateway`), on a free port."""
    rig_settings.http.token_secret = "e2e-" + "s" * 28
    rig_settings.http.port = 0
    return rig_settings.http.token_secret


async def http(gw, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    def send():
        request = urllib.request.Request(f"http://127.0.0.1:{gw.api.port}/api/v1{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return await asyncio.to_thread(send)


async def test_an_agent_works_a_call_through_the_http_api(api_secret, gateway, phones):
    agent_token = issue_token(api_secret, "agent", "1001")
    other_token = issue_token(api_secret, "agent", "1002")
    phone = await phones.register_agent("1001", answer_after=1.0)
    assert (await http(gateway, "POST", "/agents/1001/login", agent_token))[1]["state"] == "available"
    first = new_number()
    call = await billing_call_in_turkish(gateway, phones, first)
    await phone.wait_answered(30)
    await call.hangup()
    await until_state(gateway, "1001", AgentState.WRAP_UP)
    second = new_number()
    call_b = await billing_call_in_turkish(gateway, phones, second, keep_waiting=True)
    await wait_for(lambda: (c := live_call(gateway, second)) and c.queue, 30, "second queued")
    status, body = await http(gateway, "POST", "/agents/1001/end-wrapup", other_token)
    assert status == 403  # another agent cannot end my wrap-up
    status, body = await http(gateway, "POST", "/agents/1001/end-wrapup", agent_token)
    assert status == 200
    await phone.wait_answered(30)  # the waiting call comes through at once
    assert live_call(gateway, second).agent_id == "1001"
    await until_state(gateway, "1001", AgentState.ON_CALL)  # AMI's DialEnd follows the phone's answer
    status, body = await http(gateway, "GET", "/agents/1001", agent_token)
    assert body["state"] == "on_call" and body["calls_handled"] >= 1
    await call_b.hangup()
