"""Issue #4 end to end: the example flow (ivr_flows/main.yaml) run by the gateway over
FastAGI against the real Asterisk, with pjsua2 callers pressing real DTMF (RFC 4733)."""
from __future__ import annotations

import asyncio
import random

import pytest

from gateway_harness import (SUNDAY, activities, at_node, crm_db, ended_call, gateway, live_call,  # noqa: F401
                             prompts, wait_for)


def new_number() -> str:
    """An unknown caller, different in every test (no history, so no repeat-caller branch)."""
    return f"+90555{random.randrange(10**7):07d}"


@pytest.fixture
async def queues_held(gateway):
    """Every roster agent logged in and ready, with dispatch paused: a routed call stays in
    its queue (the IVR sees short queues, so it offers no call-back), to be inspected."""
    gateway.acd.dispatch_enabled = False
    for agent in gateway.acd.roster.agents:
        await gateway.acd.login(agent.id)
    return gateway


async def queued(gw, number: str, timeout: float = 20):
    def in_queue():
        call = live_call(gw, number)
        return call if call is not None and call.queue else None

    return await wait_for(in_queue, timeout, f"{number} to be queued")


async def reach_main_menu(gw, phones, number: str):
    call = await phones.call("100", caller_id=number)
    await at_node(gw, number, "language")
    await call.send_digits("1")  # Türkçe
    await at_node(gw, number, "main_menu")
    return call


BRANCHES = {  # main-menu key -> (queue, skills, priority) for a caller with no tier
    "1": ("billing", ["billing"], 2),
    "2": ("support", ["tech_support"], 2),
    "3": ("sales", ["sales"], 1),
    "9": ("complaints", ["complaints"], 3),
    "0": ("general", ["general"], 1),
}


async def test_each_main_menu_branch_routes_to_its_queue_with_skills_and_priority(queues_held, crm_db, phones):
    gw = queues_held
    numbers = {key: new_number() for key in BRANCHES}

    async def one_caller(key: str):
        call = await reach_main_menu(gw, phones, numbers[key])
        await call.send_digits(key)
        waiting = await queued(gw, numbers[key])
        await call.hangup()
        return waiting

    routed = await asyncio.gather(*(one_caller(key) for key in BRANCHES))
    for key, waiting in zip(BRANCHES, routed):
        queue, skills, priority = BRANCHES[key]
        assert waiting.route.queue == queue, key
        assert list(waiting.route.skills) == skills, key
        assert waiting.route.priority == priority, key
        assert waiting.route.language == "tr", key
        ended = await ended_call(gw, numbers[key])
        [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
        assert row["outcome"] == "abandoned_queue" and row["queue"] == queue
        assert row["route"]["skills"] == skills


async def test_a_wrong_key_is_refused_then_the_right_one_routes(queues_held, phones):
    number = new_number()
    call = await reach_main_menu(queues_held, phones, number)
    await call.send_digits("7")  # not on the menu: "invalid option", then the menu again
    await asyncio.sleep(3.5)
    assert live_call(queues_held, number).queue is None
    await call.send_digits("1")
    waiting = await queued(queues_held, number)
    assert waiting.route.queue == "billing"
    assert waiting.ivr_path.count("main_menu") == 1  # a retry, not a new visit
    await call.hangup()


async def test_silence_until_retries_are_exhausted_goes_to_a_general_agent(queues_held, phones):
    number = new_number()
    call = await reach_main_menu(queues_held, phones, number)
    # Three tries of the menu (a 15 s prompt + 5 s to answer each): the flow's on_failure.
    waiting = await queued(queues_held, number, timeout=90)
    assert waiting.route.queue == "general"
    assert waiting.ivr_path[-2:] == ["main_menu", "agent_general"]
    await call.hangup()


async def test_a_key_pressed_during_a_prompt_interrupts_it(queues_held, phones):
    number = new_number()
    call = await reach_main_menu(queues_held, phones, number)  # the 15 s menu prompt is playing
    pressed = asyncio.get_running_loop().time()
    await call.send_digits("3")
    waiting = await queued(queues_held, number)
    # Had the key waited for the 15.6 s menu prompt to finish, this would take 15 s or more;
    # interrupted, it takes the route node's "connecting" prompt (~3 s) and the queueing.
    assert asyncio.get_running_loop().time() - pressed < 10
    assert waiting.route.queue == "sales"
    await call.hangup()


async def test_hang_up_mid_menu_ends_cleanly_and_the_call_is_logged(queues_held, crm_db, phones):
    number = new_number()
    call = await reach_main_menu(queues_held, phones, number)
    await call.hangup()
    ended = await ended_call(queues_held, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "abandoned_ivr"
    assert row["ivr_path"][-1] == "main_menu"
    assert queues_held.agi.active_sessions == 0


async def test_self_service_case_status_with_a_sensitive_account_number(gateway, crm_db, phones):
    number = "+905321234567"  # Çağrı Öztürk: repeat caller, open case, account 12345678
    call = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "open_case_menu")
    await call.send_digits("2")
    await at_node(gateway, number, "main_menu")
    await call.send_digits("4")
    await at_node(gateway, number, "account_number")
    await call.send_digits("12345678#", gap=0.2)
    await at_node(gateway, number, "after_case_status", timeout=40)
    ended = await ended_call(gateway, number, timeout=60)  # no key: goodbye, the flow hangs up
    assert ended.ivr_outcome == "hangup"
    assert ended.ivr_inputs["account_number"] == "******78"  # sensitive: masked
    assert (ended.ivr_inputs["open_case_menu"], ended.ivr_inputs["main_menu"]) == ("2", "4")
    assert ended.ivr_path[-3:] == ["case_status", "after_case_status", "goodbye"]
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "self_service"
    assert row["ivr_inputs"]["account_number"] == "******78"
    assert "12345678" not in str(row)


async def test_out_of_hours_caller_asks_for_a_call_back(gateway, crm_db, phones):
    gateway.ivr_clock = lambda: SUNDAY
    number = new_number()
    call = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await call.send_digits("2")  # English
    await at_node(gateway, number, "closed_menu")
    await call.send_digits("2")  # call me back
    await at_node(gateway, number, "closed_callback")
    await call.send_digits("1")  # on this number
    ended = await ended_call(gateway, number, timeout=30)
    assert ended.ivr_outcome == "callback"
    assert "office_hours" in ended.ivr_path and "main_menu" not in ended.ivr_path
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "callback"


async def test_a_long_queue_offers_a_call_back_before_queueing(gateway, phones):
    # Nobody is logged in, so the billing queue's estimated wait is long.
    number = new_number()
    call = await reach_main_menu(gateway, phones, number)
    await call.send_digits("1")
    await at_node(gateway, number, "offer")  # callback_offer:offer
    await call.send_digits("1")
    ended = await ended_call(gateway, number, timeout=30)
    assert ended.ivr_outcome == "callback"
    assert ended.queue is None


async def test_out_of_hours_caller_leaves_a_voicemail(gateway, crm_db, phones, asterisk):
    gateway.ivr_clock = lambda: SUNDAY
    number = new_number()
    call = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await call.send_digits("1")
    await at_node(gateway, number, "closed_menu")
    await call.send_digits("1")  # leave a message
    await at_node(gateway, number, "voicemail")
    # The caller says nothing: Record stops after the node's 5 s of silence, then goodbye.
    ended = await ended_call(gateway, number, timeout=60)
    assert ended.ivr_outcome == "voicemail"
    recording = ended.ivr_inputs["voicemail"]
    assert recording.startswith("/var/spool/asterisk/ctigw-voicemail/")
    on_host = asterisk.root / recording.lstrip("/")
    assert on_host.stat().st_size > 0
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "voicemail"
