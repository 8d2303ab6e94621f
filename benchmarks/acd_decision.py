"""ACD decision latency: 5,000 agents, 1,000 waiting calls, 50 skills, real Redis.

    .venv/bin/python benchmarks/acd_decision.py [--agents 5000] [--calls 1000] [--skills 50]
                                                [--decisions 3000] [--redis redis://127.0.0.1:6379/0]

A decision is what the gateway does when something changes:
  agent frees up   pick the call this agent should take among the waiting calls (in-memory
                   index + matching.best_call), then book both with the reservation Lua script
  call arrives     pick the best available agent for it (index + matching.best_agent; ~10 %
                   of agents available), then book both with the Lua script
The script is the only round trip. Each is timed twice: the selection alone (pure, in memory)
and selection + reservation (what a caller waits for). Throughput is measured sequentially and
with 32 decisions in flight at once. State changes that set up each decision (an agent made
available, a booked call removed, a new call queued) are done between timings, as the events
that trigger decisions would be.

Redis keys live under a private prefix and are deleted at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

from gateway.acd import matching  # noqa: E402
from gateway.acd.model import CustomerFacts, QueuedCall  # noqa: E402
from gateway.acd.queue_config import QueueConfig, QueuePolicy, RelaxStep  # noqa: E402
from gateway.acd.roster import Agent, Roster, Team  # noqa: E402
from gateway.acd.service import Acd  # noqa: E402
from gateway.acd.states import AgentState, AgentStatus  # noqa: E402
from gateway.acd.store import AgentWrite, CallWrite  # noqa: E402

TEAMS = 10


class NullConnector:
    def __init__(self):
        self.connects = 0

    async def connect(self, call, agent) -> None:
        self.connects += 1


def build_roster(n_agents: int, n_skills: int, rng: random.Random) -> tuple[Roster, QueueConfig]:
    skills = [f"s{i:02d}" for i in range(n_skills)]
    team_of_skill = {s: f"team{i % TEAMS}" for i, s in enumerate(skills)}
    agents = []
    for n in range(n_agents):
        own = rng.sample(skills, rng.choice((2, 3, 3, 4)))
        langs = rng.choices([("tr",), ("en",), ("tr", "en")], weights=(55, 30, 15))[0]
        agents.append(Agent(f"a{n}", f"agent {n}", f"{10000 + n}", team_of_skill[own[0]], langs,
                            {s: rng.randint(1, 10) for s in own}))
    policies = {s: QueuePolicy(s, (s,), team=team_of_skill[s], min_proficiency=5,
                               relax=(RelaxStep(30, min_proficiency=3), RelaxStep(90, any_team_agent=True)))
                for s in skills}
    teams = tuple(Team(f"team{i}", f"Team {i}") for i in range(TEAMS))
    return Roster(teams, tuple(agents)), QueueConfig(policies, aging_seconds_per_point=30.0)


def random_call(n: int, roster_skills: list[str], rng: random.Random, now: float, tag: str) -> QueuedCall:
    skill = rng.choice(roster_skills)
    skills = (skill,) if rng.random() < 0.8 else (skill, rng.choice(roster_skills))
    at = now - rng.uniform(0, 120)  # callers have waited up to two minutes: some relax stages apply
    priority = float(rng.choice((0, 0, 1, 2, 3)))
    facts = CustomerFacts(last_agent_id=f"a{rng.randrange(5000)}", repeat_caller=True, has_open_case=True) \
        if rng.random() < 0.05 else CustomerFacts()
    return QueuedCall(f"{tag}{n}", f"PJSIP/in-{n}", skill, tuple(dict.fromkeys(skills)),
                      rng.choices(["tr", "en"], weights=(65, 35))[0], priority, at, at,
                      matching.rank_key(at, priority, 30.0), facts, owner="bench")


async def write_agents(acd: Acd, statuses: list[AgentStatus]) -> None:
    pipe = acd.store.redis.pipeline(transaction=False)
    for s in statuses:
        pipe.hset(acd.store.keys.agent(s.agent_id), mapping=s.to_hash())
        pipe.sadd(acd.store.keys.agents, s.agent_id)
    await pipe.execute()


async def write_calls(acd: Acd, calls: list[QueuedCall]) -> None:
    pipe = acd.store.redis.pipeline(transaction=False)
    for c in calls:
        pipe.hset(acd.store.keys.call(c.call_id), mapping=c.to_hash())
        pipe.zadd(acd.store.keys.queue(c.queue), {c.call_id: c.rank_key})
        pipe.sadd(acd.store.keys.calls, c.call_id)
    await pipe.execute()


async def set_agent(acd: Acd, agent_id: str, make) -> AgentStatus:
    old = acd.index.status(agent_id)
    new = make(old)
    assert (await acd.store.save(AgentWrite(old, new))).ok
    acd.index.apply_agent(new)
    return new


def busy(old: AgentStatus, now: float) -> AgentStatus:
    return replace(old, state=AgentState.ON_CALL, since=now, call_id="x", version=old.version + 1)


def free(old: AgentStatus, now: float) -> AgentStatus:
    return replace(old, state=AgentState.AVAILABLE, since=now, call_id="", version=old.version + 1)


async def round_trip_baseline(redis, n: int = 2000) -> dict[str, list[float]]:
    """The driver's own round trip on this machine, beside which the decisions are read."""
    trivial = redis.register_script("return redis.call('EXISTS', KEYS[1])")
    out: dict[str, list[float]] = {"PING": [], "EVALSHA (trivial script)": []}
    for _ in range(n):
        t = time.perf_counter()
        await redis.ping()
        out["PING"].append((time.perf_counter() - t) * 1e6)
        t = time.perf_counter()
        await trivial(keys=["bench-acd-nothing"])
        out["EVALSHA (trivial script)"].append((time.perf_counter() - t) * 1e6)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, micros: list[float], unit: str = "decisions") -> None:
    print(f"  {name:<44} p50 {pct(micros, 0.5):7.0f} us   p99 {pct(micros, 0.99):7.0f} us   "
          f"max {max(micros):7.0f} us   ({len(micros)} {unit})")


async def run(args) -> None:
    rng = random.Random(7)
    roster, queues = build_roster(args.agents, args.skills, rng)
    skills = sorted(queues.queues)
    redis = aioredis.from_url(args.redis)
    prefix = f"bench-acd-{uuid.uuid4().hex[:8]}"
    connector = NullConnector()
    now = time.time()
    acd = Acd(redis, roster, queues, connector=connector, key_prefix=prefix, instance="bench")
    try:
        # Everyone logged in and busy; 1,000 callers waiting.
        await write_agents(acd, [AgentStatus(a.id, AgentState.ON_CALL, now - 60, call_id="x", version=1)
                                 for a in roster.agents])
        waiting = [random_call(n, skills, rng, now, "w") for n in range(args.calls)]
        await write_calls(acd, waiting)
        t0 = time.perf_counter()
        await acd.start(background=False)
        print(f"ACD decision benchmark: {len(roster.agents)} agents, {len(skills)} skills, "
              f"{len(acd.index.calls)} waiting calls; index built from Redis in "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        per_skill = statistics.mean(len([a for a in roster.agents if s in a.skills]) for s in skills)
        print(f"  ({per_skill:.0f} agents per skill; calls: 80 % one skill, 20 % two, 65 % tr / 35 % en,"
              f" waited 0-120 s; 5 % wait for their last agent)")
        print(f"\nredis-py asyncio round trip on this machine ({os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}), the floor under every decision:")
        for name, micros in (await round_trip_baseline(redis)).items():
            report(name, micros, unit="round trips")

        # -- agent frees up -----------------------------------------------------------
        select_us, decide_us, booked = [], [], 0
        extra = 0
        for _ in range(args.decisions):
            agent = rng.choice(roster.agents)
            status = acd.index.status(agent.id)
            if status.state is not AgentState.ON_CALL:
                continue
            await set_agent(acd, agent.id, lambda s: free(s, time.time()))
            t = time.perf_counter()
            acd.index.best_call_for(agent.id, time.time())
            select_us.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter()
            call = await acd.dispatcher.serve_agent(agent.id)
            decide_us.append((time.perf_counter() - t) * 1e6)
            if call is not None:
                booked += 1
                # The booked call leaves; a new caller arrives so 1,000 keep waiting.
                assert (await acd.store.save(AgentWrite(acd.index.status(agent.id),
                                                        busy(acd.index.status(agent.id), time.time())),
                                             CallWrite(await acd.store.load_call(call.call_id), None, "ended"))).ok
                acd.index.apply_agent(await acd.store.load_agent(agent.id))
                acd.index.remove_call(call.call_id, call.version + 1)
                fresh = random_call(extra, skills, rng, time.time(), "n")
                extra += 1
                await write_calls(acd, [fresh])
                acd.index.apply_call(fresh)
            else:
                await set_agent(acd, agent.id, lambda s: busy(s, time.time()))
        print(f"\nagent frees up, {len(acd.index.calls)} calls waiting ({booked} of {len(decide_us)} "
              f"freed agents found a call they may take):")
        report("selection (index + best_call)", select_us)
        report("decision (selection + Lua reservation)", decide_us)
        print(f"  sequential: {1e6 / statistics.mean(decide_us):,.0f} decisions/s")

        # -- call arrives -------------------------------------------------------------
        available = rng.sample([a.id for a in roster.agents], args.agents // 10)
        for agent_id in available:
            await set_agent(acd, agent_id, lambda s: free(s, time.time() - rng.uniform(0, 300)))
        select_us, decide_us, booked = [], [], 0
        for n in range(args.decisions):
            call = random_call(n, skills, rng, time.time(), "a")
            call = replace(call, enqueued_at=time.time(), queue_entered_at=time.time(),
                           rank_key=matching.rank_key(time.time(), call.priority, 30.0),
                           customer=CustomerFacts())
            await write_calls(acd, [call])
            acd.index.apply_call(call)
            t = time.perf_counter()
            acd.index.best_agent_for(call, time.time())
            select_us.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter()
            agent = await acd.dispatcher.place_call(call.call_id)
            decide_us.append((time.perf_counter() - t) * 1e6)
            if agent is not None:
                booked += 1
                # The agent's call is over at once; they are available again, the call is gone.
                booked_call = await acd.store.load_call(call.call_id)
                old = acd.index.status(agent.id)
                assert (await acd.store.save(AgentWrite(old, free(old, time.time())),
                                             CallWrite(booked_call, None, "ended"))).ok
                acd.index.apply_agent(await acd.store.load_agent(agent.id))
                acd.index.remove_call(call.call_id, booked_call.version + 1)
            else:
                assert (await acd.store.save(call=CallWrite(call, None, "abandoned"))).ok
                acd.index.remove_call(call.call_id, call.version + 1)
        print(f"\ncall arrives, {len(acd.index.available)} agents available "
              f"({booked} of {len(decide_us)} calls found an eligible agent):")
        report("selection (index + best_agent)", select_us)
        report("decision (selection + Lua reservation)", decide_us)
        print(f"  sequential: {1e6 / statistics.mean(decide_us):,.0f} decisions/s")

        # -- throughput with decisions in flight together -----------------------------
        busy_ids = [s.agent_id for s in acd.index.statuses.values() if s.state is AgentState.ON_CALL]
        rng.shuffle(busy_ids)
        batch = busy_ids[:args.decisions]
        for agent_id in batch:
            await set_agent(acd, agent_id, lambda s: free(s, time.time()))
        sem = asyncio.Semaphore(32)

        async def one(agent_id):
            async with sem:
                return await acd.dispatcher.serve_agent(agent_id)

        t = time.perf_counter()
        results = await asyncio.gather(*(one(a) for a in batch))
        elapsed = time.perf_counter() - t
        print(f"\n{len(batch)} agents freed at once, served with 32 decisions in flight: "
              f"{len(batch) / elapsed:,.0f} decisions/s ({sum(r is not None for r in results)} booked before the "
              f"{len(waiting)} waiting calls ran out; {acd.dispatcher.lost_races} lost races in the whole run)")
    finally:
        await acd.store.delete_everything()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--skills", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--redis", default=os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
