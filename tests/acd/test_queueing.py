"""Call queues in Redis and who gets which call: hard constraints, proficiency, priority and
aging, relax steps, overflow and outcomes, last-agent affinity, announcements."""
import pytest

from gateway.acd.errors import UnknownQueue
from gateway.acd.model import CallState, CustomerFacts
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)
EN_BILLING = RouteRequest("billing", ("billing",), "en", 2)


async def test_a_waiting_call_is_kept_in_redis_with_its_requirements(make_acd, clock, redis_client, key_prefix):
    acd = await make_acd()
    call = await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING, CustomerFacts(customer_id="42", tier="gold"))
    # The route's 2, plus 2 for a gold customer (agents/queues.yaml: the one place tiers weigh).
    assert (call.state, call.skills, call.language, call.priority, call.enqueued_at) == \
        (CallState.WAITING, ("billing",), "tr", 2.0 + 2.0, clock.now)
    stored = await acd.store.load_call("c1")
    assert stored == call and stored.customer.customer_id == "42"
    members = await redis_client.zrange("%s:{acd}:queue:billing" % key_prefix, 0, -1, withscores=True)
    assert members == [(b"c1", call.rank_key)]
    clock.advance(12)
    snap = await acd.queue_snapshot("billing")
    assert [(w.call_id, w.position, w.waited_seconds) for w in snap.waiting] == [("c1", 1, 12.0)]
    assert snap.longest_wait_seconds == 12.0


async def test_the_queue_defaults_skills_and_only_a_route_request_is_queued(make_acd):
    acd = await make_acd()
    call = await acd.enqueue("c1", "PJSIP/in-1", RouteRequest("support", language="TR", priority=1))
    assert (call.skills, call.language) == (("tech_support",), "tr")
    with pytest.raises(UnknownQueue):
        await acd.enqueue("c2", "PJSIP/in-2", RouteRequest("astrology"))
    with pytest.raises(TypeError, match="RouteRequest"):
        await acd.enqueue("c3", "PJSIP/in-3", {"queue": "support"})
    assert await acd.store.load_call("c3") is None


async def test_a_replayed_enqueue_returns_the_live_call(make_acd, clock):
    acd = await make_acd()
    first = await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    clock.advance(5)
    again = await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert again == first


async def test_the_most_proficient_agent_who_speaks_the_language_gets_the_call(make_acd):
    acd = await make_acd()
    for agent_id in ("1002", "1003", "1001", "1006"):
        await acd.login(agent_id)
    await acd.enqueue("tr1", "PJSIP/in-1", TR_BILLING)
    await acd.enqueue("en1", "PJSIP/in-2", EN_BILLING)
    await acd.enqueue("tr2", "PJSIP/in-3", TR_BILLING)
    assert acd.connector.connects == [("tr1", "1001"), ("en1", "1003"), ("tr2", "1006")]
    assert (await acd.get_agent_state("1001")).state is AgentState.RESERVED
    assert (await acd.get_agent_state("1001")).call_id == "tr1"


async def test_among_equally_skilled_agents_the_longest_idle_wins(make_acd, clock):
    acd = await make_acd()
    await acd.login("1002")  # general 7, tr
    clock.advance(10)
    await acd.login("1020")  # general 7, en
    await acd.not_ready("1002", "coffee")
    clock.advance(10)
    await acd.ready("1002")  # idle again, but only since now
    await acd.enqueue("g1", "PJSIP/in-1", RouteRequest("general", (), None))
    await acd.enqueue("g2", "PJSIP/in-2", RouteRequest("general", (), None))
    assert acd.connector.connects == [("g1", "1020"), ("g2", "1002")]


async def test_proficiency_comes_before_idle_time(make_acd, clock):
    acd = await make_acd()
    await acd.login("1005")  # sales 6, en, idlest
    clock.advance(30)
    await acd.login("1012")  # sales 8, en
    await acd.enqueue("s1", "PJSIP/in-1", RouteRequest("sales", ("sales",), "en"))
    assert acd.connector.connects == [("s1", "1012")]


async def test_a_freed_agent_takes_the_highest_priority_call_and_aging_lets_old_calls_through(make_acd, clock):
    acd = await make_acd()
    await acd.enqueue("old", "PJSIP/in-1", RouteRequest("billing", (), "tr", 0))
    clock.advance(50)
    await acd.enqueue("vip", "PJSIP/in-2", RouteRequest("billing", (), "tr", 3))  # 3 points = 90 s
    await acd.enqueue("mid", "PJSIP/in-3", RouteRequest("billing", (), "tr", 1))
    await acd.login("1001")
    assert acd.connector.connects == [("vip", "1001")]
    snap = await acd.queue_snapshot("billing")
    assert [w.call_id for w in snap.waiting] == ["old", "mid"]  # 50 s of waiting beats 1 point (30 s)


async def test_language_is_never_relaxed(make_acd, clock):
    acd = await make_acd()
    await acd.login("1001")
    await acd.enqueue("en1", "PJSIP/in-1", EN_BILLING)
    for _ in range(4):
        clock.advance(70)
        await acd.tick()
    assert acd.connector.connects == []


async def test_minimum_proficiency_relaxes_after_30_seconds(make_acd, clock):
    acd = await make_acd()
    await acd.login("1019")  # billing 4 < the queue's minimum 5
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    clock.advance(29)
    await acd.tick()
    assert acd.connector.connects == []
    clock.advance(1)
    await acd.tick()
    assert acd.connector.connects == [("c1", "1019")]


async def test_any_team_agent_after_90_seconds(make_acd, clock):
    acd = await make_acd()
    await acd.login("1017")  # support team, no billing skill
    await acd.login("1008")  # support team, tr, no billing
    await acd.enqueue("t1", "PJSIP/in-1", RouteRequest("support", ("tech_support", "general"), "tr"))
    assert acd.connector.connects == [("t1", "1008")]  # the only one with both skills, at >= 5
    await acd.enqueue("t2", "PJSIP/in-2", RouteRequest("support", ("tech_support", "general"), "tr"))
    clock.advance(89)
    await acd.tick()
    assert acd.connector.connects == [("t1", "1008")]
    clock.advance(1)
    await acd.tick()
    assert acd.connector.connects[-1] == ("t2", "1017")


async def test_overflow_moves_the_call_to_another_queue(make_acd, clock, redis_client, key_prefix):
    acd = await make_acd()
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    clock.advance(300)
    await acd.tick()
    (outcome,) = acd.connector.outcomes
    assert (outcome.kind, outcome.queue, outcome.target_queue, outcome.waited_seconds) == \
        ("overflow", "billing", "general", 300.0)
    call = await acd.store.load_call("c1")
    assert (call.queue, call.skills, call.overflowed_from, call.state) == \
        ("general", ("general",), "billing", CallState.WAITING)
    assert await redis_client.zcard("%s:{acd}:queue:billing" % key_prefix) == 0
    await acd.login("1019")  # general 9
    assert acd.connector.connects == [("c1", "1019")]


async def test_voicemail_outcome_takes_the_call_out_of_the_queue(make_acd, clock, redis_client, key_prefix):
    acd = await make_acd()
    await acd.enqueue("c1", "PJSIP/in-1", RouteRequest("complaints", ("complaints",), "tr", 3))
    clock.advance(359)
    await acd.tick()
    assert acd.connector.outcomes == []
    clock.advance(1)
    await acd.tick()
    assert [(o.kind, o.call_id, o.queue) for o in acd.connector.outcomes] == [("voicemail", "c1", "complaints")]
    assert await acd.store.load_call("c1") is None
    assert await redis_client.exists("%s:{acd}:queue:complaints" % key_prefix) == 0


async def test_without_a_call_layer_the_call_stays_queued_at_its_outcome_step(make_acd, clock):
    acd = await make_acd()
    acd.connector = None  # an ACD in a process without a call layer: nobody could take the caller away
    await acd.enqueue("c1", "PJSIP/in-1", RouteRequest("sales", ("sales",), "tr"))
    clock.advance(240)
    await acd.tick()
    await acd.tick()
    assert (await acd.store.load_call("c1")).state is CallState.WAITING
    await acd.login("1010")
    booked = await acd.store.load_call("c1")
    assert (booked.state, booked.agent_id) == (CallState.RESERVED, "1010")


REPEAT = CustomerFacts(customer_id="7", tier="gold", last_agent_id="1002", repeat_caller=True, has_open_case=True)


async def test_a_repeat_caller_with_an_open_case_waits_for_the_last_agent(make_acd, clock):
    acd = await make_acd()
    await acd.login("1002")
    await acd.enqueue("busy", "PJSIP/in-0", TR_BILLING)  # 1002 is now busy
    await acd.agent_answered("1002", "busy")
    await acd.login("1001")
    await acd.enqueue("case", "PJSIP/in-1", TR_BILLING, REPEAT)
    assert acd.connector.connects == [("busy", "1002")]  # 1001 is free but not theirs
    clock.advance(10)
    await acd.call_ended("busy")
    await acd.end_wrapup("1002")
    assert acd.connector.connects[-1] == ("case", "1002")


async def test_after_the_affinity_window_anyone_suitable_takes_it(make_acd, clock):
    acd = await make_acd()
    await acd.login("1002")
    await acd.enqueue("busy", "PJSIP/in-0", TR_BILLING)
    await acd.agent_answered("1002", "busy")
    await acd.login("1001")
    await acd.enqueue("case", "PJSIP/in-1", TR_BILLING, REPEAT)
    clock.advance(20)
    await acd.tick()
    assert acd.connector.connects[-1] == ("case", "1001")


async def test_no_waiting_for_a_last_agent_who_is_logged_out(make_acd):
    acd = await make_acd()
    await acd.login("1001")
    await acd.enqueue("case", "PJSIP/in-1", TR_BILLING, REPEAT)
    assert acd.connector.connects == [("case", "1001")]


async def test_callers_hear_their_position_and_estimated_wait(make_acd, clock):
    acd = await make_acd()
    await acd.login("1002")
    await acd.enqueue("busy", "PJSIP/in-0", TR_BILLING)
    await acd.agent_answered("1002", "busy")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.enqueue("c2", "PJSIP/in-2", TR_BILLING)
    assert acd.connector.announcements == [("c1", 1, 240.0), ("c2", 2, 480.0)]
    clock.advance(59)
    await acd.tick()
    assert len(acd.connector.announcements) == 2
    clock.advance(1)
    await acd.tick()
    assert acd.connector.announcements[2:] == [("c1", 1, 240.0), ("c2", 2, 480.0)]
    assert await acd.estimated_wait("billing") == 720.0
    await acd.login("1001")
    clock.advance(1)
    assert await acd.estimated_wait("billing") == 240.0  # 1001 took c1; c2 waits; 2 agents serve
    assert await acd.estimated_wait("nowhere") is None
