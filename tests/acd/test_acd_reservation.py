"""The atomic reservation: what the Lua script writes, and lost races that re-match."""
from gateway.acd import states
from gateway.acd.model import CallState
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


async def test_the_script_writes_what_the_pure_transition_says(make_acd, clock):
    acd = await make_acd()
    before = await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    after = await acd.get_agent_state("1001")
    assert after == states.reserve(before, clock.now, "c1", "billing")
    call = await acd.store.load_call("c1")
    assert (call.state, call.agent_id, call.version) == (CallState.RESERVED, "1001", 2)
    log = await acd.store.reservation_log()
    assert [(e["op"], e["agent"], e["call"], e["agent_version"]) for e in log] == [("reserve", "1001", "c1", "2")]


async def test_the_script_refuses_a_stale_agent_or_call(make_acd, clock):
    acd = await make_acd()
    seen = await acd.login("1001")
    call = await acd.enqueue("c1", "PJSIP/in-1", RouteRequest("sales", ("sales",), "tr"))  # 1001 cannot take it
    await acd.not_ready("1001", "break")
    await acd.ready("1001")  # available again, but a newer version
    booked = call.advanced(state=CallState.RESERVED, agent_id="1001")
    result = await acd.store.reserve(seen, states.reserve(seen, clock.now, "c1", "sales"), call, booked, clock.now)
    assert (result.ok, result.conflict) == (False, "agent")
    fresh = await acd.get_agent_state("1001")
    stale_call = call.advanced()  # a version Redis never had
    result = await acd.store.reserve(fresh, states.reserve(fresh, clock.now, "c1", "sales"), stale_call,
                                     stale_call.advanced(state=CallState.RESERVED), clock.now)
    assert (result.ok, result.conflict) == (False, "call")
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    assert await acd.store.reservation_log() == []


async def test_a_lost_race_re_matches_with_the_next_best_agent(make_acd):
    # Two instances without event feeds: each one's index goes stale as the other acts.
    mine = await make_acd(instance="gw1")
    other = await make_acd(instance="gw2")
    await mine.login("1001")
    await mine.login("1002")
    await other.resync()
    await other.enqueue("theirs", "PJSIP/in-0", TR_BILLING)  # books 1001 behind mine's back
    assert other.connector.connects == [("theirs", "1001")]
    assert mine.index.is_offerable("1001")  # mine still believes 1001 is free
    await mine.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert mine.connector.connects == [("c1", "1002")]
    assert mine.dispatcher.lost_races == 1
    assert not mine.index.is_offerable("1001")


async def test_a_call_booked_elsewhere_is_not_booked_again(make_acd):
    mine = await make_acd(instance="gw1")
    other = await make_acd(instance="gw2")
    await mine.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await other.resync()
    await other.login("1001")
    assert other.connector.connects == []  # c1 belongs to gw1: gw1 connects it (when it hears of it)
    assert (await other.store.load_call("c1")).agent_id == "1001"
    await mine.login("1002")  # mine's index still lists c1 as waiting
    assert (await mine.get_agent_state("1002")).state is AgentState.AVAILABLE
    assert mine.dispatcher.lost_races == 1
    assert "c1" not in mine.index.calls


async def test_a_failed_connect_releases_the_agent_and_retries_the_call(make_acd, connector_class):
    acd = await make_acd(connector=connector_class(fail=1))
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert acd.connector.connects == [("c1", "1001")]  # second attempt
    call = await acd.store.load_call("c1")
    assert (call.state, call.connect_failures) == (CallState.RESERVED, 1)
    ops = [e["op"] for e in await acd.store.reservation_log()]
    assert ops == ["reserve", "free", "reserve"]


async def test_a_call_that_cannot_be_connected_leaves_the_queue_after_three_tries(make_acd, connector_class):
    acd = await make_acd(connector=connector_class(fail=3))
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert acd.connector.connects == []
    assert [(o.kind, o.call_id) for o in acd.connector.outcomes] == [("connect_failed", "c1")]
    assert await acd.store.load_call("c1") is None
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
