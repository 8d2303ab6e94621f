"""What the call layer reports: ringing, answer, ring-no-answer, hang-ups, the end of a call,
and the timers that follow (wrap-up, offers nobody acted on)."""
from gateway.acd.model import CallState
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


async def acd_with_offer(make_acd, *agents):
    acd = await make_acd()
    for agent_id in agents:
        await acd.login(agent_id)
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    return acd


# -- ringing and answer ----------------------------------------------------------------

async def test_ringing_then_answer_moves_agent_and_call_along(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")
    clock.advance(1)
    await acd.agent_ringing("1001", "c1")
    assert (await acd.get_agent_state("1001")).state is AgentState.RINGING
    assert (await acd.store.load_call("c1")).state is CallState.RINGING
    clock.advance(4)
    await acd.agent_answered("1001", "c1")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.since, status.call_id) == (AgentState.ON_CALL, clock.now, "c1")
    assert (await acd.store.load_call("c1")).state is CallState.CONNECTED


async def test_events_for_calls_not_offered_to_the_agent_change_nothing(make_acd):
    acd = await acd_with_offer(make_acd, "1001", "1002")
    await acd.agent_ringing("1002", "c1")
    await acd.agent_answered("1002", "c1")
    await acd.ring_no_answer("1002", "c1")
    assert (await acd.get_agent_state("1002")).state is AgentState.AVAILABLE
    assert (await acd.store.load_call("c1")).agent_id == "1001"


# -- RONA ------------------------------------------------------------------------------

async def test_ring_no_answer_puts_the_agent_not_ready_and_the_call_at_the_head(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")
    clock.advance(5)
    await acd.enqueue("c2", "PJSIP/in-2", RouteRequest("billing", (), "tr", 9))  # higher priority, waiting
    await acd.agent_ringing("1001", "c1")
    clock.advance(15)
    await acd.ring_no_answer("1001", "c1")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.reason) == (AgentState.NOT_READY, "RONA")
    snap = await acd.queue_snapshot("billing")
    assert [w.call_id for w in snap.waiting] == ["c1", "c2"]
    call = await acd.store.load_call("c1")
    assert (call.state, call.agent_id, call.rona_agents) == (CallState.WAITING, None, ("1001",))
    assert call.rank_key < (await acd.store.load_call("c2")).rank_key
    await acd.login("1002")
    assert acd.connector.connects[-1] == ("c1", "1002")


async def test_after_rona_the_call_goes_straight_to_another_free_agent(make_acd):
    acd = await acd_with_offer(make_acd, "1001", "1002")
    await acd.agent_ringing("1001", "c1")
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    await acd.ring_no_answer("1001", "c1")
    assert acd.connector.connects == [("c1", "1001"), ("c2", "1002")]
    await acd.login("1006")
    assert acd.connector.connects[-1] == ("c1", "1006")


async def test_an_offer_nobody_reports_on_is_taken_back_by_the_tick(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")  # reserved; the call layer never says ringing
    clock.advance(acd.ring_timeout + 14)
    await acd.tick()
    assert (await acd.get_agent_state("1001")).state is AgentState.RESERVED
    clock.advance(1)
    await acd.tick()
    assert (await acd.get_agent_state("1001")).reason == "RONA"
    assert (await acd.store.load_call("c1")).state is CallState.WAITING


# -- hang-ups --------------------------------------------------------------------------

async def test_abandon_while_waiting_leaves_no_trace(make_acd, redis_client, key_prefix):
    acd = await make_acd()
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.caller_abandoned("c1")
    keys = {k.decode() async for k in redis_client.scan_iter(match="%s:{acd}:*" % key_prefix)}
    assert keys == set()  # no call hash, no queue entry, no live-call entry
    assert acd.index.calls == {}
    await acd.login("1001")
    assert acd.connector.connects == []


async def test_abandon_while_ringing_frees_the_agent_at_once(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.agent_ringing("1001", "c1")
    clock.advance(3)
    await acd.caller_abandoned("c1")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.since, status.call_id, status.calls_handled) == \
        (AgentState.AVAILABLE, clock.now, "", 0)
    assert await acd.store.load_call("c1") is None
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    assert acd.connector.connects[-1] == ("c2", "1001")
    ops = [e["op"] for e in await acd.store.reservation_log()]
    assert ops == ["reserve", "free", "reserve"]


async def test_abandon_frees_the_agent_for_the_next_waiting_call(make_acd):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    await acd.caller_abandoned("c1")
    assert acd.connector.connects == [("c1", "1001"), ("c2", "1001")]


async def test_replayed_hang_ups_are_harmless(make_acd):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.caller_abandoned("c1")
    await acd.caller_abandoned("c1")
    await acd.call_ended("c1")
    await acd.caller_abandoned("never-queued")
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE


# -- end of call and wrap-up -----------------------------------------------------------

async def test_wrapup_lasts_the_queues_wrapup_time_then_the_agent_takes_the_next_call(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.agent_answered("1001", "c1")
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    clock.advance(120)
    await acd.call_ended("c1")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.wrapup_until, status.calls_handled) == (AgentState.WRAP_UP, clock.now + 15, 1)
    assert await acd.store.load_call("c1") is None
    clock.advance(14.9)
    await acd.tick()
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    clock.advance(0.1)
    await acd.tick()
    assert acd.connector.connects[-1] == ("c2", "1001")


async def test_ending_wrapup_early_makes_the_agent_available_at_once(make_acd, clock):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.agent_answered("1001", "c1")
    await acd.call_ended("c1")
    clock.advance(2)
    status = await acd.end_wrapup("1001")
    assert (status.state, status.since) == (AgentState.AVAILABLE, clock.now)
    clock.advance(20)
    await acd.tick()
    assert (await acd.get_agent_state("1001")).version == status.version


async def test_wrapup_time_is_per_queue(make_acd, clock):
    acd = await make_acd()
    await acd.login("1013")
    await acd.enqueue("k1", "PJSIP/in-1", RouteRequest("complaints", ("complaints",), "tr"))
    await acd.agent_answered("1013", "k1")
    await acd.call_ended("k1")
    assert (await acd.get_agent_state("1013")).wrapup_until == clock.now + 30


async def test_hang_up_after_answer_counts_as_the_end_of_the_call(make_acd):
    acd = await acd_with_offer(make_acd, "1001")
    await acd.agent_answered("1001", "c1")
    await acd.caller_abandoned("c1")  # a call layer that only knows "the caller left"
    status = await acd.get_agent_state("1001")
    assert (status.state, status.calls_handled) == (AgentState.WRAP_UP, 1)
