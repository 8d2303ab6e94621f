"""Agent state in Redis: controls, times, versions, calls handled."""
import pytest

from gateway.acd.errors import AgentStateError, UnknownAgent
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


async def test_controls_are_stored_with_the_time_each_state_began(make_acd, clock, redis_client, key_prefix):
    acd = await make_acd()
    start = clock.now
    status = await acd.login("1001")
    assert (status.state, status.since, status.version) == (AgentState.AVAILABLE, start, 1)
    clock.advance(60)
    await acd.not_ready("1001", "lunch")
    stored = await acd.get_agent_state("1001")
    assert (stored.state, stored.reason, stored.since) == (AgentState.NOT_READY, "lunch", start + 60)
    raw = await redis_client.hgetall("%s:{acd}:agent:1001" % key_prefix)
    assert raw[b"state"] == b"not_ready" and raw[b"reason"] == b"lunch"
    clock.advance(1800)
    assert (await acd.ready("1001")).state is AgentState.AVAILABLE
    assert (await acd.logout("1001")).state is AgentState.LOGGED_OUT
    assert (await acd.get_agent_state("1001")).version == 4


async def test_unknown_agents_cannot_log_in_and_logged_out_agents_cannot_be_ready(make_acd):
    acd = await make_acd()
    with pytest.raises(UnknownAgent):
        await acd.login("9999")
    with pytest.raises(AgentStateError):
        await acd.ready("1001")
    assert (await acd.get_agent_state("1002")).state is AgentState.LOGGED_OUT


async def test_login_not_ready(make_acd):
    acd = await make_acd()
    status = await acd.login("1001", ready=False)
    assert (status.state, status.reason) == (AgentState.NOT_READY, "login")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert acd.connector.connects == []
    await acd.ready("1001")
    assert acd.connector.connects == [("c1", "1001")]


async def test_calls_handled_counts_completed_calls(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    for n in range(3):
        await acd.enqueue(f"c{n}", f"PJSIP/in-{n}", TR_BILLING)
        await acd.agent_ringing("1001", f"c{n}")
        await acd.agent_answered("1001", f"c{n}")
        clock.advance(100)
        await acd.call_ended(f"c{n}")
        await acd.end_wrapup("1001")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.calls_handled) == (AgentState.AVAILABLE, 3)


async def test_not_ready_during_a_call_takes_effect_after_wrapup(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.agent_answered("1001", "c1")
    status = await acd.not_ready("1001", "meeting")
    assert (status.state, status.pending) == (AgentState.ON_CALL, "not_ready:meeting")
    await acd.call_ended("c1")
    clock.advance(15)
    await acd.tick()
    status = await acd.get_agent_state("1001")
    assert (status.state, status.reason) == (AgentState.NOT_READY, "meeting")


async def test_agent_states_lists_the_whole_roster(make_acd, demo_roster):
    acd = await make_acd()
    await acd.login("1005")
    states = {s.agent_id: s.state for s in await acd.agent_states()}
    assert len(states) == len(demo_roster.agents)
    assert states["1005"] is AgentState.AVAILABLE and states["1001"] is AgentState.LOGGED_OUT
