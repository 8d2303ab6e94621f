"""The atomic reservation: what the Lua script writes, and lost races that re-match."""
from gateway.acd import states
from gateway.acd.model import CallState
from gateway.acd.retry import ConnectRetry
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


async def test_a_failed_connect_frees_the_agent_and_retries_the_call_once_its_backoff_is_over(
        make_acd, connector_class, clock):
    acd = await make_acd(connector=connector_class(fail=1), connect_retry=ConnectRetry(initial=1.0, jitter=0.0))
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert acd.connector.connects == []  # not back to back: the retry waits its second
    call = await acd.store.load_call("c1")
    assert (call.state, call.connect_failures, call.retry_at) == (CallState.WAITING, 1, clock.now + 1.0)
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    await acd.tick(clock.advance(0.9))
    assert acd.connector.connects == []
    await acd.login("1002")  # an agent freeing up does not take a call that is backing off either
    assert acd.connector.connects == []
    await acd.tick(clock.advance(0.2))
    assert acd.connector.connects == [("c1", "1001")]
    call = await acd.store.load_call("c1")
    assert (call.state, call.connect_failures) == (CallState.RESERVED, 1)
    ops = [e["op"] for e in await acd.store.reservation_log()]
    assert ops == ["reserve", "free", "reserve"]


async def test_the_waits_between_attempts_grow_and_the_last_failure_sends_the_call_to_its_fallback(
        make_acd, connector_class, clock):
    acd = await make_acd(connector=connector_class(fail=4),
                         connect_retry=ConnectRetry(attempts=4, initial=1.0, maximum=8.0, jitter=0.25))
    await acd.login("1001")
    failed_at = clock.now
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    for failures, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        call = await acd.store.load_call("c1")
        assert call.connect_failures == failures
        assert wait * 0.75 <= call.retry_at - failed_at <= wait  # jitter only shortens a wait
        await acd.tick(clock.advance(call.retry_at - clock.now - 0.01))
        assert acd.connector.fail == 4 - failures  # nothing tried before the wait is over
        await acd.tick(clock.advance(0.02))
        failed_at = clock.now
    assert acd.connector.fail == 0 and acd.connector.connects == []
    assert [(o.kind, o.call_id) for o in acd.connector.outcomes] == [("connect_failed", "c1")]
    assert await acd.store.load_call("c1") is None
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE


async def test_a_call_backing_off_does_not_hold_up_the_calls_behind_it(make_acd, connector_class, clock):
    acd = await make_acd(connector=connector_class(fail=1), connect_retry=ConnectRetry(initial=5.0, jitter=0.0))
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    await acd.login("1001")  # c1 first: its connect fails, the agent is free again and takes c2
    assert acd.connector.connects == [("c2", "1001")]
    assert (await acd.store.load_call("c1")).state is CallState.WAITING
