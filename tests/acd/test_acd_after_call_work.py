"""Mandatory and optional after-call work on the real ACD (Redis): who ends a wrap-up, and
what the timer records when a mandatory one runs out."""
import pytest

from gateway.acd.acw import WrapupTimedOut
from gateway.acd.errors import AgentStateError
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

COMPLAINT = RouteRequest("complaints", ("complaints",), "tr")  # mandatory, 30 s, no_disposition
BILLING = RouteRequest("billing", ("billing",), "tr", 2)  # optional


async def wrapping_up(acd, agent_id, call_id, route):
    await acd.login(agent_id)
    await acd.enqueue(call_id, "PJSIP/in-1", route)
    await acd.agent_answered(agent_id, call_id)
    await acd.call_ended(call_id)
    assert (await acd.get_agent_state(agent_id)).state is AgentState.WRAP_UP


async def test_a_mandatory_wrapup_cannot_be_ended_by_the_agent(make_acd, clock):
    acd = await make_acd()
    await wrapping_up(acd, "1013", "k1", COMPLAINT)
    with pytest.raises(AgentStateError, match="mandatory"):
        await acd.end_wrapup("1013")
    assert (await acd.get_agent_state("1013")).state is AgentState.WRAP_UP


async def test_saving_the_disposition_ends_a_mandatory_wrapup(make_acd, clock):
    acd = await make_acd()
    await wrapping_up(acd, "1013", "k1", COMPLAINT)
    assert (await acd.disposition_saved("1013", "an-older-call")).state is AgentState.WRAP_UP
    clock.advance(5)
    status = await acd.disposition_saved("1013", "k1")
    assert (status.state, status.since) == (AgentState.AVAILABLE, clock.now)


async def test_an_optional_wrapup_ends_either_way(make_acd):
    acd = await make_acd()
    await wrapping_up(acd, "1001", "c1", BILLING)
    assert (await acd.end_wrapup("1001")).state is AgentState.AVAILABLE


async def test_a_mandatory_wrapup_that_runs_out_records_the_timeout_disposition_once(make_acd, clock):
    first, second = await make_acd(instance="gw1"), await make_acd(instance="gw2")
    recorded = []

    async def record(timeout):
        recorded.append(timeout)

    first.on_wrapup_timeout(record)
    second.on_wrapup_timeout(record)
    await wrapping_up(first, "1013", "k1", COMPLAINT)
    await second.resync()
    clock.advance(29)
    await first.tick()
    assert recorded == []
    clock.advance(1)
    await first.tick()
    await second.tick()  # the other gateway's timer finds it already ended
    assert recorded == [WrapupTimedOut("1013", "k1", "complaints", "no_disposition")]
    assert (await first.get_agent_state("1013")).state is AgentState.AVAILABLE


async def test_an_optional_wrapup_that_runs_out_records_nothing(make_acd, clock):
    acd = await make_acd()
    recorded = []

    async def record(timeout):
        recorded.append(timeout)

    acd.on_wrapup_timeout(record)
    await wrapping_up(acd, "1001", "c1", BILLING)
    clock.advance(60)
    await acd.tick()
    assert recorded == [] and (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
