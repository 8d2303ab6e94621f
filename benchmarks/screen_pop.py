"""Screen pop latency: from the AMI DialBegin reaching the gateway's call tracker to the pop
arriving at a subscriber of the agent's Redis channel, beside a bare Redis publish -> subscribe
of the same payload (the floor), in the same run, on the same Redis and subscriber.

    .venv/bin/python benchmarks/screen_pop.py [--agents 500] [--rate 50] [--calls 1000]
                                              [--redis redis://127.0.0.1:6379/0]

The gateway side is the real code: an AMI DialBegin frame (as a dict) -> ami_bridge.to_call_event
-> CallTracker.handle -> pop built from a CRM CallerView (10 activities, an open case) ->
DeskService (Lua: number, keep as current, publish). The tracker's ACD port is a no-op here
(the ACD's own costs are in acd_decision.py); each call is forgotten after its offer.

The subscriber is a separate process (as the web workers relaying pops to WebSockets will be),
subscribed to all `--agents` agent channels on one connection; it timestamps each message with
the system-wide monotonic clock. Calls arrive at `--rate` a second, evenly spaced, on agents
taken round robin. The floor publishes the same JSON (one DeskMessage of the same call) with a
plain PUBLISH at the same rate. Figures are printed side by side; nothing is asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

from gateway.calls.ami_bridge import to_call_event  # noqa: E402
from gateway.calls.tracker import CallTracker, pop_of  # noqa: E402
from gateway.crm.numbers import classify_ani  # noqa: E402
from gateway.crm.views import ActivitySummary, CallerView, CaseSummary  # noqa: E402
from gateway.desk.pop import DeskKind, DeskMessage  # noqa: E402
from gateway.desk.service import DeskService, desk_channel  # noqa: E402
from gateway.loop import install_reactor  # noqa: E402


class NoAcd:
    async def agent_ringing(self, agent_id, call_id): ...
    async def agent_answered(self, agent_id, call_id): ...
    async def ring_no_answer(self, agent_id, call_id): ...
    async def call_ended(self, call_id): ...
    async def caller_abandoned(self, call_id): ...


def agent_ids(n: int) -> list[str]:
    return [f"{1000 + i}" for i in range(n)]


def caller() -> CallerView:
    now = datetime.now(timezone.utc)
    history = [ActivitySummary(id=i, kind="call", occurred_at=now - timedelta(days=i), direction="inbound",
                               channel="phone", summary=f"Fatura itirazı: görüşme {i}, inceleme sürüyor",
                               agent_id="1006", outcome="answered") for i in range(10)]
    return CallerView(ani=classify_ani("05321234567"), known=True, customer_id=1, name="Çağrı Öztürk", language="tr",
                      tier="gold", segment="consumer", lifetime_value=Decimal("48750.00"), account_number="12345678",
                      recent_activities=history,
                      open_cases=[CaseSummary(1, "Fatura itirazı", "open", "high", now, "1006")],
                      last_agent_id="1006", calls_last_7_days=2, repeat_caller=True)


# -- the subscriber (its own process) ------------------------------------------------------------
def subscriber_main(redis_url: str, channels: list[str], ready, done, results) -> None:
    asyncio.run(_subscribe(redis_url, channels, ready, done, results))


async def _subscribe(redis_url, channels, ready, done, results) -> None:
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    for start in range(0, len(channels), 100):
        await pubsub.subscribe(*channels[start:start + 100])
    confirmed = 0
    while confirmed < len(channels):
        message = await pubsub.get_message(timeout=5)
        if message is not None and message["type"] == "subscribe":
            confirmed += 1
    ready.set()
    arrived: dict[str, float] = {}
    while not done.is_set():
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            at = time.monotonic()
            arrived[json.loads(message["data"])["call_id"]] = at
    results.put(arrived)
    await pubsub.aclose()
    await client.aclose()


# -- the two phases ------------------------------------------------------------------------------
async def paced(count: int, rate: float, step, first: int = 0) -> tuple[dict[str, float], float]:
    """Run `step(i)` at `rate` a second (inf: back to back); returns {call id: start} and the
    CPU seconds used."""
    started: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    begin, cpu = loop.time(), time.process_time()
    for n, i in enumerate(range(first, first + count)):
        delay = begin + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        call_id, t0 = await step(i)
        started[call_id] = t0
    return started, time.process_time() - cpu


async def run(args) -> None:
    prefix = f"ctigw-bench-pop-{uuid.uuid4().hex[:8]}"
    agents = agent_ids(args.agents)
    ctx = multiprocessing.get_context("spawn")
    ready, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=subscriber_main,
                      args=(args.redis, [desk_channel(prefix, a) for a in agents], ready, done, results))
    sub.start()
    if not await asyncio.to_thread(ready.wait, 60):
        raise SystemExit("the subscriber did not subscribe in time")
    redis = aioredis.from_url(args.redis)
    desk = DeskService(redis, prefix)
    endpoints = {a: a for a in agents}
    tracker = CallTracker(acd=NoAcd(), agent_for_endpoint=endpoints.get, record_activity=_nothing, desk=desk)
    view = caller()

    async def floor_step(i: int):
        call_id = f"floor.{i}"
        agent = agents[i % len(agents)]
        payload = floor_payloads[i]
        t0 = time.monotonic()
        await redis.publish(desk_channel(prefix, agent), payload)
        return call_id, t0

    async def pop_step(i: int):
        linkedid = f"1700000000.{i}"
        agent = agents[i % len(agents)]
        call = tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{i:08x}",
                             raw_ani="05321234567", dnis="100", caller=view)
        call.ivr_path[:] = ["open_case_check", "open_case_menu", "main_menu", "billing_wait", "agent_billing"]
        call.ivr_inputs = {"open_case_menu": "2", "main_menu": "1"}
        tracker.queued(call, "billing")
        tracker.offered(linkedid, agent, {"rule": "best_proficiency", "candidates": 12, "stage": 0,
                                          "min_proficiency": 5, "skills": ["billing"], "language": "tr",
                                          "proficiency": {"billing": 9}, "idle_seconds": 41.5})
        frame = {"Event": "DialBegin", "Linkedid": linkedid, "Uniqueid": linkedid,
                 "DestChannel": f"PJSIP/{agent}-{i:08x}", "DialString": agent, "Timestamp": f"{time.time():.6f}"}
        t0 = time.monotonic()
        await tracker.handle(to_call_event(frame))
        tracker.calls.pop(linkedid, None)
        return linkedid, t0

    # One real pop, serialised, is the floor's payload: the same bytes on the wire.
    warm = tracker.begin(linkedid="warm", uniqueid="warm", channel="c", raw_ani="05321234567", dnis="100",
                         caller=view)
    tracker.queued(warm, "billing")
    sample = DeskMessage(kind=DeskKind.OFFER, agent_id=agents[0], call_id="warm", at=time.time(),
                         pop=pop_of(warm, agents[0]))
    tracker.calls.pop("warm")
    floor_payloads = [sample.model_copy(update={"call_id": f"floor.{i}", "version": i + 1}).model_dump_json()
                      for i in range(2 * args.calls)]
    print(f"{args.agents} agent channels subscribed (one connection, another process); {args.calls} calls at "
          f"{args.rate:g}/s per phase; payload {len(sample.model_dump_json()):,} bytes; python "
          f"{sys.version.split()[0]}")

    floor_started, floor_cpu = await paced(args.calls, args.rate, floor_step)
    pop_started, pop_cpu = await paced(args.calls, args.rate, pop_step)
    # Back to back, one at a time: what one message costs the publishing process's CPU.
    _, floor_burst_cpu = await paced(args.calls, float("inf"), floor_step, first=args.calls)
    _, pop_burst_cpu = await paced(args.calls, float("inf"), pop_step, first=args.calls)
    await asyncio.sleep(1.0)
    done.set()
    arrived = await asyncio.to_thread(results.get, True, 60)
    await asyncio.to_thread(sub.join, 30)
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)
    await redis.aclose()

    print()
    print(f"{'path':<44} {'n':>6} {'lost':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per CPU-s':>10}")
    rows = (("bare PUBLISH -> subscriber (floor)", floor_started, floor_burst_cpu),
            ("DialBegin -> tracker -> desk -> subscriber", pop_started, pop_burst_cpu))
    figures = {}
    for name, started, cpu in rows:
        lat = sorted(arrived[c] - t0 for c, t0 in started.items() if c in arrived)
        lost = len(started) - len(lat)
        p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        figures[name] = p99
        print(f"{name:<44} {len(lat):>6} {lost:>5} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f} {lat[-1] * 1e3:>8.2f} "
              f"{args.calls / cpu if cpu else float('inf'):>10,.0f}")
    floor_p99, pop_p99 = figures[rows[0][0]], figures[rows[1][0]]
    print(f"\npop p99 / floor p99: {pop_p99 / floor_p99:.1f}x. Latencies at {args.rate:g}/s; per CPU-s: messages per "
          f"second of the publishing process's CPU, sent back to back ({args.calls} more of each; the pop side "
          f"also sets each call up, as the IVR and queue would); {os.cpu_count()} CPUs here")


async def _nothing(call) -> None:
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="calls a second")
    parser.add_argument("--calls", type=int, default=1000, help="calls per phase")
    parser.add_argument("--redis", default=os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    loop = install_reactor()  # the gateway's loop: asyncio with Twisted's reactor on it
    loop.run_until_complete(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
