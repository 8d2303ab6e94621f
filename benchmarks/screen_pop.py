"""Screen pop latency: from the AMI DialBegin reaching the gateway to the pop arriving on the
agent's WebSocket, with `--agents` agents signed in and connected and `--rate` calls a second,
beside a bare broadcast on the same framework (the floor), in the same run.

    .venv/bin/python benchmarks/screen_pop.py [--agents 500] [--rate 50] [--calls 1500] [--talk 3]
                                              [--profile FILE] [--redis redis://127.0.0.1:6379/0]

Four processes besides Redis, each with its own CPU:

  gateway  (pop_gateway.py) the real ACD, call tracker, desk service and web application
           (FastAPI on uvicorn, /desk/ws) on the gateway's one loop, as `ctigw` runs them; each
           agent has an account and a session made by the session store. A call is queued in
           the ACD, which books an agent; its DialBegin frame -> ami_bridge.to_call_event ->
           CallTracker.handle -> DeskService (Lua: number, keep, publish) -> /desk/ws -> socket.
           The calls then go on untimed (answered, hung up after --talk s, wrap-up), so the
           sockets carry every desk message and ACD state change a real call makes.
  floor    (pop_floor.py) a minimal FastAPI app on the same WebServer (uvicorn, h11, wsproto):
           payloads PUBLISHed on a per-agent channel, one shared subscriber relaying them as
           they are to that agent's socket. No gateway logic, and no JSON handling: the least a
           Redis-fed WebSocket broadcast costs on this framework. (Sending straight to the
           socket without Redis would be no floor for a gateway whose web workers learn of pops
           through Redis, as several gateways behind one Redis must.) Its main phase replays
           the gateway phase's socket traffic: every message the gateway's sockets read, to the
           same agent, of the same size, at the same offset from the phase's start (each pop,
           the gateway's own text, at its call's DialBegin offset), so that the two differ only
           by the gateway's own work (a call is 8 messages: the pop, answered, ended, and five
           ACD state changes). The floor of the pop alone (one message a call) is kept as an
           extra line.
  sockets  (pop_sockets.py) one WebSocket per agent to each server, as the desk page opens them;
           each message is stamped with the system-wide monotonic clock when read.
  redis    a plain Redis subscriber on every agent channel (one connection): the earlier
           figures, DialBegin -> Redis subscriber, beside a bare PUBLISH -> subscriber.

Calls are evenly spaced at `--rate` a second, `--calls` of them per phase: after `--warmup`
unmeasured calls of the pop-alone floor (the first phase after the sockets open ran slower:
its p99 about twice the same phase's run later), the pop-alone floor (its agents round
robin), then the gateway (agents as its ACD books them: longest idle, in effect round robin),
then the floor replaying the gateway phase's traffic. Replaying what was recorded in the same
run, rather than a synthetic mix, keeps the floor's traffic the gateway's own whatever its
message sizes and timings become. "per CPU-s" is pops per CPU-second of the server process
over its phase (the gateway's includes the rest of each call: the ACD, answered and ended
messages; the replayed floor's, relaying them).
"lost": pops that never reached the socket, and calls the ACD found no free agent for (counted
apart too). The gateway process also reports its garbage collector's pauses in its phase: a
full collection stops its loop, and every pop arriving meanwhile waits. --profile writes a
cProfile of the gateway's phase. Figures are printed side by side; nothing is asserted.
"""
from __future__ import annotations

import argparse
from collections import Counter
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))

import redis.asyncio as aioredis  # noqa: E402

from gateway.calls.tracker import CallTracker, pop_of  # noqa: E402
from gateway.desk.pop import DeskKind, DeskMessage  # noqa: E402
from gateway.desk.service import desk_channel  # noqa: E402

from pop_common import caller  # noqa: E402
from pop_floor import floor_main  # noqa: E402
from pop_gateway import agent_id, gateway_main  # noqa: E402
from pop_sockets import sockets_main  # noqa: E402


# -- the plain Redis subscriber (its own process) ------------------------------------------------
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
            body = json.loads(message["data"])
            body = body.get("desk", body)  # the floor's payload is the socket's message
            if body.get("kind") == "offer":
                arrived.setdefault(body["call_id"], at)
    results.put(arrived)
    await pubsub.aclose()
    await client.aclose()


def floor_payloads(targets: list[tuple[str, str]]) -> list[str]:
    """What /desk/ws sends for a pop ({"type": "desk", ...}) of one real call, per (call id,
    agent) of the floor."""
    agents = [agent for _, agent in targets] or ["sample"]
    tracker = CallTracker(acd=None, agent_for_endpoint=lambda e: e, record_activity=None)
    call = tracker.begin(linkedid="sample", uniqueid="sample", channel="PJSIP/carrier-1", raw_ani="05321234567",
                         dnis="100", caller=caller())
    call.ivr_path[:] = ["open_case_check", "open_case_menu", "main_menu", "billing_wait", "agent_billing"]
    call.ivr_inputs = {"open_case_menu": "2", "main_menu": "1"}
    tracker.queued(call, "billing")
    tracker.offered("sample", agents[0], {"rule": "longest_idle", "candidates": 500, "stage": 0,
                                          "min_proficiency": 5, "skills": ["billing"], "language": "tr",
                                          "proficiency": {"billing": 7}, "idle_seconds": 9.5})
    sample = DeskMessage(kind=DeskKind.OFFER, agent_id=agents[0], call_id="sample", at=time.time(),
                         pop=pop_of(call, agents[0]), version=1)
    out = []
    for i, (call_id, agent) in enumerate(targets):
        desk = sample.model_copy(update={"call_id": call_id, "agent_id": agent,
                                         "version": i + 1}).model_dump(mode="json")
        out.append(json.dumps({"type": "desk", "now": time.time(), "desk": desk}))
    return out


def padded(text: str, size: int) -> str:
    """`text` (a JSON object) with a "pad" member making it `size` bytes, when it is shorter."""
    short = size - len(text.encode()) - len(',"pad":""')
    return text[:-1] + f',"pad":"{"x" * short}"}}' if short >= 0 else text


def replay_schedule(log, gateway_result) -> list[tuple[float, str, str, str | None]]:
    """The gateway phase's socket traffic as the floor replays it: (offset from the phase's
    start, agent, payload, the pop's call id or None), in order of offset. A pop goes out at
    its call's DialBegin offset, as the very text the gateway sent (its call id renamed
    "replay.N"); every other message (ACD state, answered, ended...) at the offset it was
    read, as filler JSON of the same size and kind."""
    began, started = gateway_result["began"], gateway_result["started"]
    schedule, pops = [], 0
    for at, agent, size, kind, call_id, text in log:
        if at < began:
            continue
        if kind == "offer" and call_id in started:
            pop, pops = f"replay.{pops}", pops + 1
            schedule.append((started[call_id] - began, agent, text.replace(f'"{call_id}"', f'"{pop}"'), pop))
            continue
        body = ({"type": "agent", "now": time.time(), "agent": {"state": "filler"}} if kind == "agent" else
                {"type": "desk", "now": time.time(), "desk": {"kind": kind, "call_id": "filler"}})
        schedule.append((at - began, agent, padded(json.dumps(body), size), None))
    schedule.sort(key=lambda entry: entry[0])
    return schedule


def figures(started: dict[str, float], arrived: dict[str, float]) -> dict:
    lat = sorted(arrived[c] - t0 for c, t0 in started.items() if c in arrived)
    if not lat:
        return {"n": 0, "lost": len(started), "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {"n": len(lat), "lost": len(started) - len(lat), "p50": statistics.median(lat),
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "max": lat[-1]}


def run(args) -> None:
    ctx = multiprocessing.get_context("spawn")
    gateway_prefix = f"ctigw-bench-pop-{uuid.uuid4().hex[:8]}"
    floor_prefix = f"{gateway_prefix}-floor"
    agents = [agent_id(n) for n in range(args.agents)]
    payloads = floor_payloads([(f"floor.{i}", agents[i % len(agents)])
                               for i in range(args.calls + args.warmup)])
    processes = []

    def start(target, *a):
        process = ctx.Process(target=target, args=a)
        process.start()
        processes.append(process)
        return process

    redis_ready, redis_done, redis_results = ctx.Event(), ctx.Event(), ctx.Queue()
    start(subscriber_main, args.redis, [desk_channel(p, a) for p in (gateway_prefix, floor_prefix) for a in agents],
          redis_ready, redis_done, redis_results)
    gateway, gateway_end = ctx.Pipe()
    start(gateway_main, gateway_end, args.redis, gateway_prefix, args.agents, args.talk, args.profile)
    floor, floor_end = ctx.Pipe()
    start(floor_main, floor_end, args.redis, floor_prefix, agents, payloads)
    gateway_hello, floor_hello = gateway.recv(), floor.recv()
    if not redis_ready.wait(60):
        raise SystemExit("the Redis subscriber did not subscribe in time")
    sockets_ready, gateway_over, sockets_done, sockets_results = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
    start(sockets_main, gateway_hello["port"], gateway_hello["cookies"], floor_hello["port"], sockets_ready,
          gateway_over, sockets_done, sockets_results)
    if not sockets_ready.wait(300):
        raise SystemExit("the sockets did not all open in time")
    print(f"{args.agents} agents signed in, each with a socket to the gateway and one to the floor (another "
          f"process); {args.calls} calls at {args.rate:g}/s per phase; pop message {len(payloads[0]):,} bytes; "
          f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs")

    if args.warmup:  # unmeasured: the first phase after the sockets open runs slower, whichever it is
        floor.send(("phase", args.warmup, args.rate, args.calls))
        floor.recv()
    floor.send(("phase", args.calls, args.rate, 0))
    floor_result = floor.recv()
    gateway.send(("phase", args.calls, args.rate, 0))
    gateway_result = gateway.recv()
    time.sleep(1.0)
    gateway_over.set()
    gateway_log = [entry for entry in sockets_results.get(True, 120) if entry[0] >= gateway_result["began"]]
    schedule = replay_schedule(gateway_log, gateway_result)
    floor.send(("phase", 0, args.rate, 0, schedule))
    replay_result = floor.recv()
    time.sleep(1.0)
    sockets_done.set()
    redis_done.set()
    at_sockets = sockets_results.get(True, 120)
    at_redis = redis_results.get(True, 60)
    for conn in (floor, gateway):
        conn.send(("stop",))
    for process in processes:
        process.join(60)

    rows = [
        ("floor: gateway's traffic replayed", replay_result, at_sockets["arrived"]["floor"], True),
        ("floor, pop alone (1 message a call)", floor_result, at_sockets["arrived"]["floor"], True),
        ("gateway: DialBegin -> ... -> /desk/ws", gateway_result, at_sockets["arrived"]["gateway"], True),
        ("Redis only: replayed traffic -> subscriber", replay_result, at_redis, False),
        ("Redis only: pop alone -> subscriber", floor_result, at_redis, False),
        ("Redis only: DialBegin -> ... -> subscriber", gateway_result, at_redis, False),
    ]
    print()
    print(f"{'path':<44} {'n':>6} {'lost':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per CPU-s':>10}")
    out = {}
    for name, result, arrived, cpu in rows:
        f = out[name] = figures(result["started"], arrived)
        rate = f"{f['n'] / result['cpu']:>10,.0f}" if cpu and result["cpu"] else f"{'':>10}"
        print(f"{name:<44} {f['n']:>6} {f['lost']:>5} {f['p50'] * 1e3:>8.2f} {f['p99'] * 1e3:>8.2f} "
              f"{f['max'] * 1e3:>8.2f} {rate}")
    replay_ws, alone_ws, gateway_ws = (out[row[0]] for row in rows[:3])
    print(f"\ngateway / floor (replayed traffic): p50 {gateway_ws['p50'] / replay_ws['p50']:.1f}x, p99 "
          f"{gateway_ws['p99'] / replay_ws['p99']:.1f}x; gateway / floor (pop alone): p50 "
          f"{gateway_ws['p50'] / alone_ws['p50']:.1f}x, p99 {gateway_ws['p99'] / alone_ws['p99']:.1f}x.\n"
          f"Server CPU over each phase: floor replayed {replay_result['cpu']:.2f} s, floor pop alone "
          f"{floor_result['cpu']:.2f} s, gateway {gateway_result['cpu']:.2f} s (with every call's ACD work). "
          f"Messages: gateway's sockets read {at_sockets['messages']['gateway']:,} (hellos apart), the floor "
          f"replayed {len(schedule):,} ({sum(len(e[2].encode()) for e in schedule) / 1e6:.1f} MB); both floors' "
          f"sockets read (with the warm-up) {at_sockets['messages']['floor']:,}; calls no agent was free for: "
          f"{gateway_result['unbooked']}")
    kinds = Counter(entry[3] for entry in gateway_log)
    calls = max(1, kinds["offer"])
    size = Counter()
    for entry in gateway_log:
        size[entry[3]] += entry[2]
    print(f"gateway's socket traffic per call (messages x mean bytes): "
          + ", ".join(f"{kind} {n / calls:.2f} x {size[kind] / n:,.0f}" for kind, n in kinds.most_common())
          + f"; {sum(e[2] for e in gateway_log) / 1e6:.2f} MB in all, replayed "
          f"{sum(len(e[2].encode()) for e in schedule) / 1e6:.2f} MB")
    pauses = gateway_result["gc"]
    full = [s for s, generation in pauses if generation == 2]
    print(f"gateway's garbage collector in its phase: {len(pauses)} pauses, {sum(s for s, _ in pauses) * 1e3:.0f} ms "
          f"in all, longest {max((s for s, _ in pauses), default=0) * 1e3:.1f} ms; {len(full)} full collections, "
          f"longest {max(full, default=0) * 1e3:.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="calls a second")
    parser.add_argument("--calls", type=int, default=1500, help="calls per phase")
    parser.add_argument("--warmup", type=int, default=250, help="unmeasured pop-alone floor calls first")
    parser.add_argument("--talk", type=float, default=3.0, help="seconds each gateway call is talked")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the gateway process's phase into FILE")
    parser.add_argument("--redis", default=os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
