"""The contract with the call layer: gateway.calls' tracker drives the real ACD."""
from gateway.calls.events import ChannelHungUp, DialFinished, DialStarted
from gateway.calls.tracker import CallTracker
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState


async def make_tracker(make_acd, clock):
    acd = await make_acd()
    written = []

    async def record(call):
        written.append(call)

    def agent_for_endpoint(endpoint):
        agent = acd.roster.by_endpoint(endpoint)
        return agent.id if agent else None

    tracker = CallTracker(acd=acd, agent_for_endpoint=agent_for_endpoint, record_activity=record, clock=clock)
    return acd, tracker, written


async def queue_call(acd, tracker, linkedid="L1"):
    call = tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{linkedid}",
                         raw_ani="05321234567", dnis="100")
    await tracker.ivr_finished(call)
    tracker.queued(call, "billing")
    await acd.enqueue(call.linkedid, call.caller_channel, RouteRequest("billing", ["billing"], "tr", 2))
    return call


async def test_answered_call_ends_in_wrapup(make_acd, clock):
    acd, tracker, written = await make_tracker(make_acd, clock)
    await acd.login("1001")
    await queue_call(acd, tracker)
    assert acd.connector.connects == [("L1", "1001")]
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-01", clock.now))
    assert (await acd.get_agent_state("1001")).state is AgentState.RINGING
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", clock.now))
    assert (await acd.get_agent_state("1001")).state is AgentState.ON_CALL
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-L1", "16", clock.advance(60)))
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    assert len(written) == 1


async def test_no_answer_is_rona_and_the_next_agent_gets_the_call(make_acd, clock):
    acd, tracker, _ = await make_tracker(make_acd, clock)
    await acd.login("1001")
    await queue_call(acd, tracker)
    await acd.login("1002")
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-01", clock.now))
    await tracker.handle(DialFinished("L1", "1001", "NOANSWER", clock.advance(15)))
    assert (await acd.get_agent_state("1001")).reason == "RONA"
    assert acd.connector.connects == [("L1", "1001"), ("L1", "1002")]


async def test_caller_hanging_up_while_it_rings_frees_the_agent(make_acd, clock):
    acd, tracker, _ = await make_tracker(make_acd, clock)
    await acd.login("1001")
    await queue_call(acd, tracker)
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-01", clock.now))
    await tracker.handle(DialFinished("L1", "1001", "CANCEL", clock.advance(3)))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-L1", "16", clock.now))
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    assert await acd.store.load_call("L1") is None
