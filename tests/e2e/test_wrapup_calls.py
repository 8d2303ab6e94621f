"""Issue #12, working the call, end to end through the real Asterisk: an unknown caller is
answered by an agent's pjsua2 phone and hangs up; the agent finds the customer in the CRM,
links the number, and saves the wrap-up, which lands in the call's one CRM activity."""
from __future__ import annotations

import asyncio
import random

from gateway.acd.states import AgentState
from gateway.desk.wrapup import UpdateCase
from gateway_harness import activities, at_node, crm_db, ended_call, gateway, prompts, wait_for  # noqa: F401


async def until_state(gw, agent_id, state, timeout: float = 10):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (status := await gw.acd.get_agent_state(agent_id)).state is not state:
        if loop.time() > deadline:
            raise AssertionError(f"agent {agent_id} is {status.state.value}, not {state.value}")
        await asyncio.sleep(0.05)
    return status


async def test_an_answered_call_gets_its_wrapup_disposition_notes_and_case_update(gateway, crm_db, phones):
    agent = await phones.register_agent("1001", answer_after=1.0)
    await gateway.acd.login("1001")
    number = f"+90555{random.randrange(10**7):07d}"  # a number the CRM does not know yet
    call = await phones.call("100", caller_id=number)
    await at_node(gateway, number, "language")
    await call.send_digits("1")  # Türkçe
    await at_node(gateway, number, "main_menu")
    await call.send_digits("1")  # billing: optional wrap-up, 15 s
    await agent.wait_answered(30)
    await until_state(gateway, "1001", AgentState.ON_CALL)
    await asyncio.sleep(1.0)
    await call.hangup()
    linkedid = (await ended_call(gateway, number)).linkedid
    [row] = await wait_for(lambda: activities(crm_db, linkedid), 10, "the call's activity")
    assert (row["customer_id"], row["agent_id"], row["disposition"]) == (None, "1001", None)
    await until_state(gateway, "1001", AgentState.WRAP_UP)

    # The caller turned out to be Çağrı Öztürk, calling from a new number about the open dispute.
    [hit] = await gateway.directory.search("CAGRI ÖZTÜRK")
    await gateway.directory.link_number(hit.id, number, linkedid=linkedid)
    form = await gateway.wrapups.form("1001", linkedid)
    [dispute] = form.open_cases
    assert (form.queue, form.mode, form.customer_id, dispute.subject) == ("billing", "optional", hit.id,
                                                                          "Fatura itirazı")
    notes = "Yeni numarasını ekledik. <b>İade</b> onaylandı; müşteri “teşekkürler” dedi."
    result = await gateway.wrapups.save("1001", linkedid, "resolved", notes,
                                        UpdateCase(dispute.id, status="resolved"))
    assert (result.spooled, result.case.status, result.agent_state) == (False, "resolved", "available")

    [row] = activities(crm_db, linkedid)  # still the call's one activity
    assert (row["customer_id"], row["outcome"], row["agent_id"], row["queue"]) == (hit.id, "answered", "1001",
                                                                                    "billing")
    assert (row["disposition"], row["notes"], row["case_id"]) == ("resolved", notes, dispute.id)
    assert await gateway.directory.open_cases(hit.id) == []
    assert (await gateway.crm.lookup(number)).name == "Çağrı Öztürk"  # the next call pops the customer
    assert (await gateway.acd.get_agent_state("1001")).state is AgentState.AVAILABLE
