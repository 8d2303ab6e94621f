"""Issue 12, linking an unknown caller to a customer while the call is live, end to end through
the real Asterisk: the gateway makes a lead for the unknown number when the call comes in;
the agent, talking on their pjsua2 phone, links the number to Emily Clarke through the desk
API; the caller hangs up, and the call's one CRM activity is Emily's, not the lead's. The next
call from that number pops Emily Clarke on the agent's desk."""
from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from desk_browser import PASSWORD, web_on  # noqa: F401
from gateway.acd.states import AgentState
from gateway_harness import (activities, at_node, crm_db, ended_call, gateway, live_call, prompts,  # noqa: F401
                             wait_for)
from test_screen_pop_calls import Desk
from test_wrapup_calls import until_state
from web_testing import form_token

EMILY = 2  # Emily Clarke, a known English customer (demo data)


@pytest.fixture
def leads_on(rig_settings):
    """Unknown callers get a lead (listed before `gateway`)."""
    rig_settings.crm.create_leads = True


async def signed_in(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=20)
    page = await client.get("/login")
    r = await client.post("/login", data={"username": username, "password": PASSWORD,
                                          "csrf_token": form_token(page.text)})
    assert r.status_code == 303, r.text
    desk = await client.get("/desk/api/me")
    assert desk.status_code == 200, desk.text
    return client


async def csrf(gw, client) -> str:
    session = await gw.api.app.state.services.sessions.get(client.cookies["ctigw_session"])
    return session.csrf_token


async def test_a_number_linked_during_the_call_takes_the_call_and_the_next_call_pops_the_customer(
        web_on, leads_on, gateway, crm_db, phones):
    accounts = gateway.api.app.state.services.accounts
    await asyncio.to_thread(accounts.add, "rebecca", PASSWORD, role="agent", agent_id="1003",
                            display_name="Rebecca Lawson", locale="en")
    agent = await phones.register_agent("1003", answer_after=1.0)
    await gateway.acd.login("1003")
    number = f"+90555{random.randrange(10**7):07d}"  # a number the CRM does not know yet
    client = await signed_in(f"http://127.0.0.1:{gateway.api.port}", "rebecca")
    try:
        call = await phones.call("100", caller_id=number)
        await at_node(gateway, number, "language")
        await call.send_digits("2")  # English
        await at_node(gateway, number, "main_menu")
        await call.send_digits("1")  # billing: agent 1003 speaks English
        await agent.wait_answered(30)
        await until_state(gateway, "1003", AgentState.ON_CALL)
        live = live_call(gateway, number)
        lead = live.caller.customer_id
        assert live.caller.is_lead and lead is not None and lead != EMILY
        assert activities(crm_db, live.linkedid) == []  # the call's activity is written when it ends

        # The caller says she is Emily Clarke, calling from a new number: the agent links it.
        r = await client.post(f"/desk/api/customers/{EMILY}/numbers",
                              json={"number": number, "linkedid": live.linkedid},
                              headers={"X-CSRF-Token": await csrf(gateway, client)})
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.5)
        await call.hangup()
        ended = await ended_call(gateway, number)
        assert ended.linkedid == live.linkedid and ended.caller.customer_id == lead  # the tracker's own view
        [row] = await wait_for(lambda: [r for r in activities(crm_db, live.linkedid) if r["outcome"]], 15,
                               "the call's activity")
        assert (row["customer_id"], row["outcome"], row["agent_id"], row["queue"]) == (EMILY, "answered", "1003",
                                                                                       "billing")
        assert len(activities(crm_db, live.linkedid)) == 1
        await until_state(gateway, "1003", AgentState.WRAP_UP)
        await gateway.acd.end_wrapup("1003")

        # The next call from the number is Emily's: English, no language menu, her name on the pop.
        async with Desk(gateway, "1003") as desk:
            again = await phones.call("100", caller_id=number)
            await at_node(gateway, number, "main_menu")
            await again.send_digits("1")
            offer = await desk.next(30)
            assert offer["kind"] == "offer"
            assert (offer["pop"]["caller"]["name"], offer["pop"]["caller"]["customer_id"]) == ("Emily Clarke", EMILY)
            await agent.wait_answered(30)
            await again.hangup()
            await wait_for(lambda: len([c for c in gateway.tracker.ended if c.raw_ani == number]) == 2, 30,
                           "the second call to end")
    finally:
        await client.aclose()
