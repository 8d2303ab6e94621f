"""The agent's own calls in the real ACD: click-to-dial and blind transfers."""
import pytest

from gateway.acd.errors import AcdError, AgentStateError, UnknownQueue
from gateway.acd.model import CallState, CustomerFacts
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)
FACTS = CustomerFacts(customer_id="7", tier="gold", has_open_case=True)


async def connected_call(acd, call_id="c1", agent="1001"):
    await acd.enqueue(call_id, f"PJSIP/carrier-{call_id}", TR_BILLING, FACTS)
    assert acd.connector.connects[-1] == (call_id, agent)
    await acd.agent_ringing(agent, call_id)
    await acd.agent_answered(agent, call_id)


async def test_an_agent_dialling_out_is_offered_no_inbound_call_until_wrap_up_ends(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    status = await acd.start_outbound("1001", "out-1")
    assert (status.state, status.call_id) == (AgentState.ON_CALL, "out-1")
    await acd.enqueue("c1", "PJSIP/carrier-1", TR_BILLING)
    assert acd.connector.connects == []  # the only Turkish billing agent is on the phone
    clock.advance(30)
    after = await acd.agent_leg_ended("1001", "out-1")
    assert (after.state, after.calls_handled) == (AgentState.WRAP_UP, 1)
    assert acd.connector.connects == []
    await acd.end_wrapup("1001")
    assert acd.connector.connects == [("c1", "1001")]


async def test_a_not_ready_agent_may_dial_out_and_is_not_ready_again_afterwards(make_acd):
    acd = await make_acd()
    await acd.login("1001")
    await acd.not_ready("1001", "callbacks")
    await acd.start_outbound("1001", "out-1")
    status = await acd.agent_leg_ended("1001", "out-1", wrapup=False)
    assert (status.state, status.reason) == (AgentState.NOT_READY, "callbacks")


async def test_only_a_free_logged_in_agent_may_dial_out(make_acd):
    acd = await make_acd()
    with pytest.raises(AgentStateError, match="logged out"):
        await acd.start_outbound("1001", "out-1")
    await acd.login("1001")
    await connected_call(acd)
    with pytest.raises(AgentStateError, match="on_call"):
        await acd.start_outbound("1001", "out-2")
    assert (await acd.get_agent_state("1001")).call_id == "c1"


async def test_a_transfer_to_a_queue_wraps_the_first_agent_up_and_reaches_another_keeping_the_call(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    await connected_call(acd)
    await acd.login("1004")  # technical support, Turkish
    clock.advance(40)
    moved = await acd.transfer("c1", "1001", "support")
    assert acd.connector.connects[-1] == ("c1", "1004")
    assert (moved.queue, moved.skills, moved.language) == ("support", ("tech_support",), "tr")
    assert (moved.state, moved.agent_id, moved.transferred_from) == (CallState.RESERVED, "1004", "1001")
    assert moved.customer.customer_id == "7" and moved.customer.tier == "gold"  # its data came along
    first = await acd.get_agent_state("1001")
    assert (first.state, first.call_id, first.calls_handled) == (AgentState.WRAP_UP, "c1", 1)
    await acd.agent_ringing("1004", "c1")
    await acd.agent_answered("1004", "c1")
    assert (await acd.get_agent_state("1004")).state is AgentState.ON_CALL
    await acd.call_ended("c1")
    assert (await acd.get_agent_state("1004")).state is AgentState.WRAP_UP
    assert await acd.store.load_call("c1") is None


async def test_a_transferred_call_waits_when_nobody_serves_the_queue_and_not_for_its_first_agent(make_acd, clock):
    acd = await make_acd(default_wrapup_seconds=0)
    await acd.login("1001")
    await connected_call(acd)
    await acd.transfer("c1", "1001", "support")
    waiting = await acd.store.load_call("c1")
    assert (waiting.state, waiting.queue) == (CallState.WAITING, "support")
    assert [m for m, _ in await acd.store.queue_members("support")] == ["c1"]
    assert acd.connector.connects == [("c1", "1001")]  # never given back to a billing agent


async def test_a_transfer_to_a_named_agent_waits_for_that_agent_alone(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    await connected_call(acd)
    await acd.login("1003")  # English billing: would take a billing call of any language... but not this one
    await acd.login("1002", ready=False)
    moved = await acd.transfer("c1", "1001", "billing", required_agent="1002")
    assert moved.state is CallState.WAITING and moved.required_agent == "1002"
    assert acd.connector.connects == [("c1", "1001")]
    clock.advance(200)  # past the relax steps that admit other agents (the queue's overflow aside)
    await acd.tick()
    assert acd.connector.connects == [("c1", "1001")]
    await acd.ready("1002")
    assert acd.connector.connects[-1] == ("c1", "1002")


async def test_only_the_agent_on_the_call_may_transfer_it(make_acd):
    acd = await make_acd()
    await acd.login("1001")
    await acd.login("1002")
    await connected_call(acd)
    with pytest.raises(AcdError, match="only they may transfer"):
        await acd.transfer("c1", "1002", "support")
    with pytest.raises(UnknownQueue):
        await acd.transfer("c1", "1001", "no-such-queue")
    call = await acd.store.load_call("c1")
    assert (call.state, call.agent_id, call.queue) == (CallState.CONNECTED, "1001", "billing")
    assert (await acd.get_agent_state("1001")).state is AgentState.ON_CALL
