"""Event dispatch (ordering, isolation, backpressure) and reconnect backoff, in isolation."""
import asyncio

import pytest
from ami_testkit import settle

from gateway.ami.backoff import Backoff
from gateway.ami.dispatch import EventDispatcher
from gateway.ami.message import AmiMessage


def event(name, **fields):
    return AmiMessage.from_pairs([("Event", name), *fields.items()])


async def test_async_subscriber_sees_events_one_at_a_time_in_order():
    dispatcher = EventDispatcher()
    seen, running = [], []

    async def handler(msg):
        running.append(msg["N"])
        assert len(running) == 1  # never two at once
        await asyncio.sleep(0)
        seen.append(msg["N"])
        running.pop()

    for name in ("DialBegin", "Hangup"):  # one subscriber on two names: still one queue
        dispatcher.subscribe(name, handler)
    for i in range(10):
        dispatcher.dispatch(event("DialBegin" if i % 2 else "Hangup", N=str(i)))
    assert dispatcher.backlog > 0
    await settle(40)
    assert seen == [str(i) for i in range(10)] and dispatcher.backlog == 0


async def test_plain_callable_returning_a_coroutine_is_awaited_in_order():
    dispatcher = EventDispatcher()
    seen = []

    async def record(msg):
        await asyncio.sleep(0)
        seen.append(msg["N"])

    dispatcher.subscribe("*", lambda msg: record(msg))
    for i in range(5):
        dispatcher.dispatch(event("X", N=str(i)))
    await settle(20)
    assert seen == ["0", "1", "2", "3", "4"]


async def test_named_then_wildcard_subscribers_and_isolation():
    dispatcher = EventDispatcher()
    calls = []
    dispatcher.subscribe("*", lambda m: calls.append(("*", m.event)))
    dispatcher.subscribe("Hangup", lambda m: calls.append(("Hangup", m.event)))
    dispatcher.subscribe("Hangup", lambda m: 1 / 0)
    dispatcher.dispatch(event("Hangup"))
    dispatcher.dispatch(event("Newchannel"))
    assert calls == [("Hangup", "Hangup"), ("*", "Hangup"), ("*", "Newchannel")]


async def test_backpressure_pauses_at_the_cap_and_resumes_at_half():
    dispatcher = EventDispatcher(max_backlog=4)
    flow = []
    dispatcher.attach_flow_control(lambda: flow.append("pause"), lambda: flow.append("resume"))
    gate = asyncio.Event()

    async def blocked(msg):
        await gate.wait()

    dispatcher.subscribe("*", blocked)
    for i in range(6):
        dispatcher.dispatch(event("E", N=str(i)))
    assert flow == ["pause"] and dispatcher.congested
    gate.set()
    await settle(20)
    assert flow == ["pause", "resume"] and dispatcher.backlog == 0
    # a connection attached while congested starts paused
    gate.clear()
    for i in range(5):
        dispatcher.dispatch(event("E", N=str(i)))
    dispatcher.detach_flow_control()
    later = []
    dispatcher.attach_flow_control(lambda: later.append("pause"), lambda: later.append("resume"))
    assert later == ["pause"]
    dispatcher.cancel_pending()
    assert later == ["pause", "resume"]


def test_backoff_grows_caps_and_resets():
    backoff = Backoff(0.5, 30, random=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999999])
def test_backoff_jitter_bounds(draw):
    backoff = Backoff(1, 10, jitter=0.2, random=lambda: draw)
    for base in (1, 2, 4, 8, 10, 10):
        delay = backoff.next_delay()
        assert base * 0.8 <= delay <= base


def test_backoff_rejects_nonsense():
    with pytest.raises(ValueError):
        Backoff(0, 1)
    with pytest.raises(ValueError):
        Backoff(2, 1)
    with pytest.raises(ValueError):
        Backoff(1, 2, jitter=1)
