"""The desk service on a real Redis: each agent's messages in order on their own channel, and
their current desk state there at once for a page that (re)connects."""
import asyncio
import json
import uuid

import pytest

from gateway.crm.numbers import classify_ani
from gateway.crm.views import CallerView
from gateway.desk.pop import DeskKind, WithdrawReason, build_pop
from gateway.desk.service import DeskService

@pytest.fixture
async def desk(redis_client):
    prefix = f"ctigw-test-desk-{uuid.uuid4().hex[:8]}"
    yield DeskService(redis_client, prefix)
    async for key in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        await redis_client.delete(key)


class Subscriber:
    """A page's view of one agent's channel (what the WebSocket route will relay)."""

    def __init__(self, redis_client, channel):
        self.pubsub = redis_client.pubsub()
        self.channel = channel

    async def __aenter__(self):
        await self.pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.pubsub.aclose()

    async def messages(self, wait: float = 0.5) -> list[dict]:
        got, deadline = [], asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is not None:
                got.append(json.loads(message["data"]))
        return got


def pop(call_id="1700.1", name="Çağrı Öztürk"):
    return build_pop(call_id=call_id, caller=CallerView(ani=classify_ani("05321234567"), known=True, customer_id=1,
                                                        name=name), raw_ani="05321234567", queue="billing")


async def test_an_agents_messages_arrive_in_order_with_growing_versions_and_the_whole_pop(desk, redis_client):
    async with Subscriber(redis_client, desk.channel("1001")) as page:
        await desk.offer("1001", pop())
        await desk.answered("1001", pop())
        await desk.ended("1001", pop())
        got = await page.messages()
    assert [m["kind"] for m in got] == ["offer", "answered", "ended"]
    versions = [m["version"] for m in got]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert all(m["pop"]["caller"]["name"] == "Çağrı Öztürk" and m["call_id"] == "1700.1" for m in got)


async def test_a_reconnecting_page_gets_the_call_in_progress_at_once(desk):
    assert await desk.current("1001") is None
    offered = await desk.offer("1001", pop())
    now = await desk.current("1001")
    assert (now.kind, now.version, now.pop.caller.name) == (DeskKind.OFFER, offered.version, "Çağrı Öztürk")
    await desk.answered("1001", pop())
    assert (await desk.current("1001")).kind is DeskKind.ANSWERED


async def test_messages_from_many_writers_keep_one_order(desk, redis_client):
    async with Subscriber(redis_client, desk.channel("1001")) as page:
        sent = await asyncio.gather(*(desk.offer("1001", pop(f"c{i}")) for i in range(50)))
        got = await page.messages(1.0)
    assert [m["version"] for m in got] == sorted(m.version for m in sent)  # published in version order
    assert (await desk.current("1001")).version == max(m.version for m in sent)


async def test_the_current_state_expires_but_versions_keep_growing(redis_client):
    prefix = f"ctigw-test-desk-{uuid.uuid4().hex[:8]}"
    desk = DeskService(redis_client, prefix, withdrawn_ttl=1)
    try:
        await desk.offer("1001", pop())
        live_ttl = await redis_client.ttl(f"{prefix}:desk:1001:current")
        assert 11 * 3600 < live_ttl <= 12 * 3600
        first = await desk.withdrawn("1001", pop(), WithdrawReason.CALLER_HUNG_UP)
        shown = await desk.current("1001")
        assert (shown.kind, shown.reason) == (DeskKind.WITHDRAWN, WithdrawReason.CALLER_HUNG_UP)
        await asyncio.sleep(1.5)
        assert await desk.current("1001") is None  # nothing left to show after a while
        later = await desk.offer("1001", pop("1700.2"))
        assert later.version > first.version
    finally:
        async for key in redis_client.scan_iter(match=f"{prefix}:*"):
            await redis_client.delete(key)


async def test_a_late_withdrawal_of_an_earlier_call_does_not_hide_the_call_now_ringing(desk, redis_client):
    await desk.offer("1001", pop("1700.2"))
    async with Subscriber(redis_client, desk.channel("1001")) as page:
        await desk.withdrawn("1001", pop("1700.1"), WithdrawReason.NO_ANSWER)
        [late] = await page.messages()
    assert (late["call_id"], late["kind"]) == ("1700.1", "withdrawn")  # published: the page ignores it
    now = await desk.current("1001")
    assert (now.call_id, now.kind) == ("1700.2", DeskKind.OFFER)


async def test_agent_1002_sees_nothing_of_1001s_call(desk, redis_client):
    async with Subscriber(redis_client, desk.channel("1002")) as other, \
            Subscriber(redis_client, desk.channel("1001")) as mine:
        await desk.offer("1001", pop())
        await desk.answered("1001", pop())
        assert [m["kind"] for m in await mine.messages()] == ["offer", "answered"]
        assert await other.messages() == []
    assert await desk.current("1002") is None


@pytest.mark.parametrize("agent_id", ["*", "1001:current", "10 01", "", "a" * 65, "1001\n"])
async def test_agent_ids_that_would_reach_other_keys_are_refused(desk, agent_id):
    with pytest.raises(ValueError):
        await desk.offer(agent_id, pop())
    with pytest.raises(ValueError):
        await desk.current(agent_id)
