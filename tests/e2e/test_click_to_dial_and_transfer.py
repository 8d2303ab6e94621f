"""Issue 12 end to end: the agent desk's click-to-dial and blind transfer, through the real
Asterisk, pjsua2 phones for the agents and for the customers, the real ACD and CRM."""
from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from gateway.acd.states import AgentState
from gateway.calls.agent_actions import CallRefused
from gateway.calls.hold import owner_token
from gateway.calls.model import CallPhase
from gateway_harness import (REDIS_URL, activities, at_node, crm_db, ended_call, gateway, live_call,  # noqa: F401
                             prompts, wait_for)
from test_acd_calls import new_number, until_state, wait_for_message


async def desk(gw, agent_id: str):
    pubsub = aioredis.from_url(REDIS_URL).pubsub()
    await pubsub.subscribe(f"{gw.settings.redis.key_prefix}:desk:{agent_id}")
    return pubsub


async def test_click_to_dial_rings_the_agent_then_the_customer_and_logs_one_outbound_activity(gateway, crm_db,
                                                                                              phones):
    agent = await phones.register_agent("1001", answer_after=1.0)
    customer = await phones.register_customers("pstn", answer_after=1.0)
    await gateway.acd.login("1001")
    pops = await desk(gateway, "1001")

    call = await gateway.agent_calls.dial("1001", "0532 123 45 67")  # Çağrı Öztürk, typed the national way
    message = await wait_for_message(pops, 10)
    pop = message["pop"]
    assert (message["kind"], pop["direction"], message["call_id"]) == ("offer", "outbound", call.linkedid)
    assert pop["caller"]["name"] == "Çağrı Öztürk"
    assert (await gateway.acd.get_agent_state("1001")).state is AgentState.ON_CALL  # no inbound offer now

    ring = await agent.wait_ringing(10)  # the agent's phone first...
    assert "+905321234567" in ring["from"]
    assert customer.rings == []
    await agent.wait_answered(10)
    dialled = await customer.wait_ringing(15)  # ...then the customer's, on their number
    assert "+905321234567" in dialled["to"]
    await customer.wait_answered(10)
    await wait_for(lambda: call.phase is CallPhase.CONNECTED, 10, "the customer to answer")
    await asyncio.sleep(1.0)
    await customer.hangup()  # the customer ends the call; the agent's leg follows

    await wait_for(lambda: call in gateway.tracker.ended, 15, "the outbound call to end")
    [row] = await wait_for(lambda: activities(crm_db, call.linkedid), 10, "the outbound activity")
    assert (row["direction"], row["outcome"], row["agent_id"]) == ("outbound", "answered", "1001")
    assert row["e164"] == "+905321234567" and row["customer_id"] == call.caller.customer_id
    assert row["talk_seconds"] >= 1.0
    await until_state(gateway, "1001", AgentState.WRAP_UP)
    await pops.aclose()


async def test_click_to_dial_refuses_hostile_input_and_a_busy_agent(gateway, phones):
    await gateway.acd.login("1002")
    for typed in ("0532'; DROP TABLE activities; --", "+905321234567&PJSIP/1003", "9" * 10_000):
        with pytest.raises(CallRefused):
            await gateway.agent_calls.dial("1002", typed)
    with pytest.raises(CallRefused, match="logged out"):
        await gateway.agent_calls.dial("1003", "05321234567")
    assert (await gateway.acd.get_agent_state("1002")).state is AgentState.AVAILABLE
    assert gateway.tracker.calls == {}


async def test_a_blind_transfer_to_a_queue_reaches_a_second_agent_with_the_note_and_stays_one_activity(
        gateway, crm_db, phones):
    first = await phones.register_agent("1001", answer_after=1.0)
    second = await phones.register_agent("1004", answer_after=1.0)  # Turkish technical support
    await gateway.acd.login("1001")
    await gateway.acd.login("1004")
    second_desk = await desk(gateway, "1004")
    number = new_number()
    caller = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await caller.send_digits("1")  # Türkçe
    await at_node(gateway, number, "main_menu")
    await caller.send_digits("1")  # billing: agent 1001
    await first.wait_answered(30)
    call = await wait_for(lambda: (c := live_call(gateway, number)) and c.phase is CallPhase.CONNECTED and c,
                          10, "the caller to reach agent 1001")
    assert call.agent_id == "1001"

    note = "Modem arızası, faturadan önce bakılsın. <b>acil</b>"
    with pytest.raises(CallRefused, match="only the agent"):
        await gateway.agent_calls.transfer_to_queue("1004", call.linkedid, "support", "not mine")
    await gateway.agent_calls.transfer_to_queue("1001", call.linkedid, "support", note)

    await first.wait_call_ended(10)  # the first agent's leg ends...
    await until_state(gateway, "1001", AgentState.WRAP_UP)
    assert live_call(gateway, number) is call  # ...and the caller's call goes on
    message = await wait_for_message(second_desk, 30)
    pop = message["pop"]
    assert (message["kind"], message["call_id"], pop["queue"]) == ("offer", call.linkedid, "support")
    assert pop["transfer"] == {"from_agent": "1001", "note": note}
    await second.wait_answered(30)
    await until_state(gateway, "1004", AgentState.ON_CALL)
    await asyncio.sleep(1.0)
    await caller.hangup()

    ended = await ended_call(gateway, number)
    assert ended is call
    [row] = await wait_for(lambda: activities(crm_db, call.linkedid), 10, "the call's one activity")
    assert (row["outcome"], row["agent_id"], row["queue"]) == ("transferred", "1004", "support")
    transfers = json.loads(row["transfers"])
    assert [(t["from_agent"], t["to_queue"], t["note"]) for t in transfers] == [("1001", "support", note)]
    await until_state(gateway, "1004", AgentState.WRAP_UP)
    await second_desk.aclose()


async def test_a_transferred_caller_waits_in_hold_under_the_liveness_check_until_the_named_agent_is_free(
        gateway, crm_db, phones, asterisk):
    first = await phones.register_agent("1001", answer_after=1.0)
    target = await phones.register_agent("1002", answer_after=1.0)
    await gateway.acd.login("1001")
    await gateway.acd.login("1002", ready=False)  # logged in, on a break: the caller waits for them
    number = new_number()
    caller = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await caller.send_digits("1")
    await at_node(gateway, number, "main_menu")
    await caller.send_digits("1")
    await first.wait_answered(30)
    call = await wait_for(lambda: (c := live_call(gateway, number)) and c.phase is CallPhase.CONNECTED and c,
                          10, "the caller to reach agent 1001")
    await gateway.agent_calls.transfer_to_agent("1001", call.linkedid, "1002", "asked for Mehmet")
    await first.wait_call_ended(10)

    def in_hold():
        rows = [line.split("!") for line in asterisk.cli("core show channels concise").splitlines()]
        return any(r[0] == call.caller_channel and r[1] == "ctigw-hold" for r in rows if len(r) > 2)

    await wait_for(in_hold, 10, "the caller to be back in [ctigw-hold]")
    owner = await gateway.ami.action("Getvar", Channel=call.caller_channel, Variable="CTIGW_OWNER")
    # The AGI's mark is still on the channel, so the hold's liveness check applies to this caller too.
    assert owner.get("Value") == owner_token(gateway.settings.gateway.instance)
    await asyncio.sleep(2.0)
    assert target.rings == [] and caller.state != "disconnected"  # still waiting, for 1002 alone
    await gateway.acd.ready("1002")
    await target.wait_answered(30)
    assert live_call(gateway, number).agent_id == "1002"
    await caller.hangup()
    ended = await ended_call(gateway, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "the call's one activity")
    assert row["agent_id"] == "1002" and json.loads(row["transfers"])[0]["to_agent"] == "1002"


async def test_click_to_dial_from_an_agent_whose_phone_is_not_registered_frees_the_agent(gateway, crm_db, phones):
    await phones.register_customers("pstn", answer_after=1.0)
    await gateway.acd.login("1003")  # logged in on the desk, but no phone registered
    call = await gateway.agent_calls.dial("1003", "+44 20 7123 4567")
    await wait_for(lambda: call in gateway.tracker.ended, 20, "Asterisk to report the failed originate")
    [row] = await wait_for(lambda: activities(crm_db, call.linkedid), 10, "the attempt's activity")
    assert (row["direction"], row["outcome"], row["e164"]) == ("outbound", "no_answer", "+442071234567")
    assert (await gateway.acd.get_agent_state("1003")).state is AgentState.AVAILABLE
