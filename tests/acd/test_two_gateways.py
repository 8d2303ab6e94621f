"""Two gateway processes on one Redis race for the same agents and calls thousands of times;
the reservation log shows no agent was ever booked twice at once."""
import asyncio
import json
import os
import sys
import textwrap
from collections import Counter
from pathlib import Path

from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.states import AgentState

REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROJECT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("race_worker.py")
AGENTS = 40
CALLS_PER_GATEWAY = 1000


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    roster = ["teams: [{id: billing, name: Billing}]", "agents:"]
    for n in range(AGENTS):
        roster.append(f"  - {{id: 'r{n}', endpoint: '{2000 + n}', team: billing, languages: [tr], "
                      f"skills: {{billing: {1 + n % 10}}}}}")
    (tmp_path / "roster.yaml").write_text("\n".join(roster) + "\n", encoding="utf-8")
    (tmp_path / "queues.yaml").write_text(textwrap.dedent("""
        queues:
          race: {skills: [billing], min_proficiency: 1, wrapup_seconds: 60}
    """), encoding="utf-8")
    return tmp_path / "roster.yaml", tmp_path / "queues.yaml"


def replay(log: list[dict]) -> tuple[list[str], Counter]:
    """Walk the reservation log: an agent booked again before being freed is a double booking."""
    booked: dict[str, str] = {}
    double, reserved_calls = [], Counter()
    for entry in log:
        agent = entry["agent"]
        if entry["op"] == "reserve":
            if agent in booked:
                double.append(f"{agent} booked for {entry['call']} while on {booked[agent]}")
            booked[agent] = entry["call"]
            reserved_calls[entry["call"]] += 1
        elif entry["op"] == "free":
            if booked.pop(agent, None) != entry["call"]:
                double.append(f"{agent} freed from {entry['call']} it was not booked for")
    return double, reserved_calls


async def test_two_gateway_processes_never_book_one_agent_twice(make_acd, key_prefix, redis_client, tmp_path):
    roster_path, queues_path = write_config(tmp_path)
    roster = load_roster(roster_path)
    setup = await make_acd(roster=roster, queues=load_queue_config(queues_path, roster=roster), instance="setup",
                           dispatch=False)
    for agent in roster.agents:
        await setup.login(agent.id)

    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), "--redis", REDIS_URL, "--prefix", key_prefix, "--instance", name,
        "--roster", str(roster_path), "--queues", str(queues_path), "--calls", str(CALLS_PER_GATEWAY),
        cwd=str(PROJECT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for name in ("gwA", "gwB")]
    try:
        while int(await redis_client.get(f"{key_prefix}:race:ready") or 0) < 2:
            assert all(p.returncode is None for p in procs), "a worker died during start-up"
            await asyncio.sleep(0.02)
        await redis_client.set(f"{key_prefix}:race:go", 1)
        outputs = [await asyncio.wait_for(p.communicate(), 240) for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await redis_client.delete(f"{key_prefix}:race:ready", f"{key_prefix}:race:go")
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err.decode()[-3000:]
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]

    log = await setup.store.reservation_log()
    double, reserved_calls = replay(log)
    assert double == []
    total = 2 * CALLS_PER_GATEWAY
    connected = [c for r in results for c in r["connected"]]
    assert len(connected) == total and len(set(connected)) == total  # every call connected exactly once
    assert set(reserved_calls) == set(connected) and set(reserved_calls.values()) == {1}
    # Calls of each gateway were booked by both (so they really raced), and races were lost and re-matched.
    booked_by = Counter((e["call"].split("-")[0], e["instance"]) for e in log if e["op"] == "reserve")
    assert all(booked_by[(owner, by)] > 0 for owner in ("gwA", "gwB") for by in ("gwA", "gwB")), booked_by
    assert sum(r["lost_races"] for r in results) > 0
    # Nothing is left over: every agent is free again and no call remains.
    states = await setup.store.load_agents(a.id for a in roster.agents)
    assert {s.state for s in states} == {AgentState.AVAILABLE}
    assert sum(s.calls_handled for s in states) == total
    assert await setup.store.load_calls() == []
    print(f"\n{len(log)} log entries, {total} calls, lost races {[r['lost_races'] for r in results]}, "
          f"booked by {dict(booked_by)}")
