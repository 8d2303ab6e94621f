"""The ACD keeps why it chose an agent with the reservation, for the agent's screen pop."""
from gateway.acd import reasons
from gateway.acd.model import CallState
from gateway.routing import RouteRequest

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


async def test_the_booked_call_carries_the_rule_in_redis_and_to_the_connector(make_acd, clock):
    acd = await make_acd()
    await acd.login("1002")  # Turkish, billing 5
    clock.advance(30)
    await acd.login("1001")  # Turkish, billing 9: the better one, though idle for less time
    clock.advance(4)
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    booked = await acd.store.load_call("c1")
    assert (booked.state, booked.agent_id) == (CallState.RESERVED, "1001")
    why = booked.match
    assert (why.rule, why.candidates, why.language, dict(why.proficiency), why.idle_seconds) == \
        (reasons.BEST_PROFICIENCY, 2, "tr", {"billing": 9}, 4.0)
    [(call_id, agent_id)] = acd.connector.connects
    assert (call_id, agent_id) == ("c1", "1001")


async def test_after_ring_no_answer_the_next_booking_says_why_the_next_agent(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.agent_ringing("1001", "c1")
    await acd.ring_no_answer("1001", "c1")
    waiting = await acd.store.load_call("c1")
    assert (waiting.state, waiting.match) == (CallState.WAITING, None)  # no stale reason while it waits
    clock.advance(2)
    await acd.login("1002")  # comes free while the call waits: it is theirs
    booked = await acd.store.load_call("c1")
    assert (booked.agent_id, booked.match.rule, booked.match.candidates) == ("1002", reasons.FIRST_FREE_AGENT, 1)
