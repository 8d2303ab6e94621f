"""Issue 12, the screen pop, end to end through the real Asterisk: what the agent's desk
channel on Redis carries while their pjsua2 phone rings, when they answer, and when the pop
is withdrawn (the caller hangs up, the phone rings out and the call goes to the next agent)."""
from __future__ import annotations

import asyncio
import json
import time

import redis.asyncio as aioredis

from gateway_harness import (REDIS_URL, at_node, crm_db, ended_call, gateway, live_call, prompts,  # noqa: F401
                             wait_for)

CAGRI = "05321234567"  # Çağrı Öztürk: a repeat caller with the open case "Fatura itirazı" (demo data)


class Desk:
    """An agent's desk channel as a page will see it: each message with the moment it arrived."""

    def __init__(self, gw, agent_id: str):
        self.pubsub = aioredis.from_url(REDIS_URL).pubsub()
        self.channel = f"{gw.settings.redis.key_prefix}:desk:{agent_id}"
        self.received: list[tuple[float, dict]] = []

    async def __aenter__(self):
        await self.pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.pubsub.aclose()

    async def next(self, timeout: float = 15) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                self.received.append((time.monotonic(), json.loads(message["data"])))
                return self.received[-1][1]
        raise AssertionError(f"nothing on {self.channel} within {timeout} s")

    async def nothing(self, seconds: float = 0.5) -> bool:
        return await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds) is None


async def cagri_calls_billing(gw, phones):
    """Çağrı calls, says 2 (not about the open case) and then 1 (billing)."""
    call = await phones.call("100", caller_id=CAGRI)
    await at_node(gw, CAGRI, "open_case_menu")
    await call.send_digits("2")
    await at_node(gw, CAGRI, "main_menu")
    await call.send_digits("1")
    return call


async def test_the_pop_is_on_the_desk_while_the_phone_rings_then_answered_then_ended(gateway, phones):
    phone = await phones.register_agent("1001", answer_after=3.0)
    await gateway.acd.login("1001")
    async with Desk(gateway, "1001") as desk, Desk(gateway, "1002") as other_desk:
        call = await cagri_calls_billing(gateway, phones)
        offer = await desk.next()
        offered_at = desk.received[-1][0]
        assert phone.calls_answered == 0  # still ringing when the pop arrived
        pop = offer["pop"]
        assert (offer["kind"], offer["agent_id"], pop["queue"]) == ("offer", "1001", "billing")
        assert pop["caller"]["name"] == "Çağrı Öztürk" and pop["caller"]["number"] == "+90 532 123 45 67"
        assert [c["subject"] for c in pop["caller"]["open_cases"]] == ["Fatura itirazı"]
        assert pop["caller"]["repeat_caller"] and pop["caller"]["last_agent_id"] == "1006"
        assert pop["caller"]["tier"] == "gold" and pop["caller"]["lifetime_value"] == "48750.00"
        assert 0 < len(pop["caller"]["recent_activities"]) <= 10
        assert pop["ivr_inputs"] == {"open_case_menu": "2", "main_menu": "1"}
        assert pop["ivr_path"][-3:] == ["main_menu", "billing_wait", "agent_billing"]
        assert pop["routing"]["rule"] == "only_candidate" and pop["routing"]["language"] == "tr"
        assert pop["waited_seconds"] >= 0 and pop["answered_at"] is None

        # A page that reconnects now gets the ringing call at once.
        current = await gateway.desk.current("1001")
        assert (current.kind.value, current.call_id) == ("offer", offer["call_id"])

        answered = await desk.next()
        await phone.wait_answered(10)
        assert offered_at < phone.answers[0]["at"]  # the pop beat the agent's hand to the phone
        assert answered["kind"] == "answered" and answered["version"] > offer["version"]
        assert answered["pop"]["answered_at"] is not None
        assert (await gateway.desk.current("1001")).kind.value == "answered"

        await asyncio.sleep(1)
        await call.hangup()
        ended = await desk.next()
        assert (ended["kind"], ended["call_id"]) == ("ended", offer["call_id"])
        assert ended["version"] > answered["version"]
        assert (await gateway.desk.current("1001")).kind.value == "ended"  # after-call work survives a reload
        assert await other_desk.nothing()  # agent 1002 sees nothing of 1001's call
    assert await gateway.desk.current("1002") is None


async def test_the_caller_hanging_up_while_the_phone_rings_withdraws_the_pop(gateway, phones):
    phone = await phones.register_agent("1001", answer_after=None)  # rings until the caller gives up
    await gateway.acd.login("1001")
    async with Desk(gateway, "1001") as desk:
        call = await cagri_calls_billing(gateway, phones)
        offer = await desk.next()
        await phone.wait_ringing(10)
        assert offer["kind"] == "offer"
        await call.hangup()
        withdrawn = await desk.next()
    assert (withdrawn["kind"], withdrawn["reason"], withdrawn["call_id"]) == \
        ("withdrawn", "caller_hung_up", offer["call_id"])
    assert withdrawn["pop"]["caller"]["name"] == "Çağrı Öztürk"  # the note can say who it was
    assert phone.calls_answered == 0
    assert (await gateway.desk.current("1001")).reason.value == "caller_hung_up"
    await ended_call(gateway, CAGRI)


async def test_ring_no_answer_withdraws_the_first_pop_and_offers_the_call_to_the_next_agent(gateway, phones):
    silent = await phones.register_agent("1001", answer_after=None)
    backup = await phones.register_agent("1002", answer_after=1.0)
    await gateway.acd.login("1002")
    await asyncio.sleep(0.3)
    await gateway.acd.login("1001")  # billing 9 beats 1002's 5: 1001 is offered first
    async with Desk(gateway, "1001") as first, Desk(gateway, "1002") as second:
        call = await cagri_calls_billing(gateway, phones)
        offer = await first.next()
        assert offer["pop"]["routing"]["rule"] == "best_proficiency"
        assert offer["pop"]["routing"]["candidates"] == 2
        await silent.wait_ringing(10)
        withdrawn = await first.next(gateway.settings.acd.ring_timeout + 15)
        assert (withdrawn["kind"], withdrawn["reason"]) == ("withdrawn", "no_answer")
        next_offer = await second.next(15)
        assert (next_offer["kind"], next_offer["call_id"]) == ("offer", offer["call_id"])
        assert next_offer["pop"]["caller"]["name"] == "Çağrı Öztürk"
        assert next_offer["pop"]["routing"]["candidates"] == 1  # 1001 went not ready
        await backup.wait_answered(15)
        assert (await second.next())["kind"] == "answered"
        assert live_call(gateway, CAGRI).rona_agents == ["1001"]
        await call.hangup()
        assert (await second.next())["kind"] == "ended"
        assert await first.nothing()
