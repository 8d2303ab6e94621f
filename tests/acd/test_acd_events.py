"""Every change is published on `<prefix>:events` as it happens, and gateway instances follow
each other through it."""
import asyncio
import json

from gateway.routing import RouteRequest
from gateway.acd.states import AgentState
from waiting import wait_until

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


async def collect(redis_client, channel):
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    return pubsub


async def drain(pubsub, quiet: float = 0.3):
    """Every message until none came for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    out, last = [], loop.time()
    while loop.time() - last < quiet:
        message = await pubsub.get_message(timeout=0.05)
        if message is not None and message["type"] == "message":
            out.append(json.loads(message["data"]))
            last = loop.time()
    return out


async def test_each_change_is_published_once_in_order(make_acd, redis_client, key_prefix, clock):
    acd = await make_acd()
    pubsub = await collect(redis_client, f"{key_prefix}:events")
    try:
        await acd.login("1001")
        await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
        await acd.agent_ringing("1001", "c1")
        await acd.agent_answered("1001", "c1")
        await acd.call_ended("c1")
        clock.advance(15)
        await acd.tick()
        messages = await drain(pubsub)
    finally:
        await pubsub.aclose()
    summary = [(m["type"], m.get("agent", {}).get("state") or m.get("call", {}).get("state") or m.get("reason"))
               for m in messages]
    assert summary == [
        ("agent_state", "available"),
        ("call_state", "waiting"),
        ("agent_state", "reserved"), ("call_state", "reserved"),
        ("agent_state", "ringing"), ("call_state", "ringing"),
        ("agent_state", "on_call"), ("call_state", "connected"),
        ("agent_state", "wrap_up"), ("call_removed", "ended"),
        ("agent_state", "available"),
    ]
    first = messages[0]
    assert first["instance"] == "gw1"
    assert first["agent"]["agent_id"] == "1001" and first["agent"]["version"] == 1
    assert first["agent"]["since"] == clock.now - 15
    assert messages[1]["call"]["rank_key"] == messages[1]["call"]["enqueued_at"] - 60  # priority 2 x 30 s
    versions = [m["agent"]["version"] for m in messages if m["type"] == "agent_state"]
    assert versions == [1, 2, 3, 4, 5, 6]


async def test_overflow_and_outcomes_are_published(make_acd, redis_client, key_prefix, clock):
    acd = await make_acd()
    pubsub = await collect(redis_client, f"{key_prefix}:events")
    try:
        await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
        clock.advance(300)
        await acd.tick()
        messages = await drain(pubsub)
    finally:
        await pubsub.aclose()
    outcome = next(m for m in messages if m["type"] == "call_outcome")
    assert (outcome["outcome"], outcome["queue"], outcome["target_queue"]) == ("overflow", "billing", "general")
    moved = messages[-2]  # the call's new state first, then the outcome
    assert (moved["type"], moved["call"]["queue"], moved["call"]["overflowed_from"]) == \
        ("call_state", "general", "billing")


async def test_instances_follow_each_other_and_the_owner_connects(make_acd):
    gw1 = await make_acd(instance="gw1", background=True)
    gw2 = await make_acd(instance="gw2", background=True)
    await gw1.enqueue("c1", "PJSIP/in-1", TR_BILLING)  # gw1's call layer holds the caller
    await wait_until(lambda: "c1" in gw2.index.calls)
    await gw2.login("1001")  # gw2's desktop: gw2 books the agent for gw1's call
    await wait_until(lambda: gw1.connector.connects == [("c1", "1001")])
    assert gw2.connector.connects == []
    await wait_until(lambda: gw1.index.status("1001").state is AgentState.RESERVED)


async def test_a_tool_process_that_does_not_dispatch_wakes_the_gateways(make_acd):
    gateway = await make_acd(instance="gw1", background=True)
    tool = await make_acd(instance="cli", dispatch=False)
    await gateway.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await tool.login("1001")
    await wait_until(lambda: gateway.connector.connects == [("c1", "1001")])


async def test_an_instance_rebuilds_its_index_from_redis_when_it_starts(make_acd):
    first = await make_acd(instance="gw1")
    await first.login("1002")
    await first.enqueue("c0", "PJSIP/in-0", RouteRequest("sales", ("sales",), "en"))
    late = await make_acd(instance="gw2")
    assert late.index.is_offerable("1002")
    assert list(late.index.calls) == ["c0"]


async def test_the_background_ticker_ends_wrapups_without_being_asked(make_acd, clock, demo_roster, demo_queues):
    from dataclasses import replace
    quick = replace(demo_queues, queues={**demo_queues.queues,
                                         "billing": replace(demo_queues.queues["billing"], wrapup_seconds=0.5)})
    acd = await make_acd(queues=quick, background=True, tick_interval=0.02)
    await acd.login("1001")
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    await acd.agent_answered("1001", "c1")
    await acd.call_ended("c1")
    clock.advance(1)
    await wait_until(lambda: acd.index.status("1001").state is AgentState.AVAILABLE)
