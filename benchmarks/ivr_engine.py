"""IVR engine speed: (1) steps per second of the pure engine on ivr_flows/main.yaml with an
in-memory caller; (2) N concurrent IVR calls through the gateway's real FastAGI server, with
an asyncio client playing Asterisk, printing per-step latency (p50/p99).

    .venv/bin/python benchmarks/ivr_engine.py [--sessions 500] [--rounds 3] [--engine-seconds 3]

Part 2 runs the server (FastAgiServer + run_flow) in a subprocess, so the client's own work
does not count against it, in two modes: a burst (every call connects at once and Asterisk
answers instantly, so commands queue behind each other on the one loop) and paced (the calls
arrive over 2 s and Asterisk answers after ~300 ms as if prompts were playing, so all 500
are live together at the peak).

A "step" on the wire is one AGI command: its latency is measured by the client as Asterisk
would see it, from writing its reply to reading the next command (for the first command:
from writing the environment block). Callers follow six scripts in turn (billing,
self-service case status with an account number, wrong key then right, keys pressed during
prompts, hang-up mid-menu, callback accepted because the queue is long); every call's
outcome is checked.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import resource
import shlex
import statistics
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from server_process import ServerProcess, agi_environment, control_loop, percentile  # noqa: E402  (beside this script)

from gateway.ivr.scripted_channel import ScriptedCase, ScriptedCaller  # noqa: E402
ROUTE = "inbound"
BACKLOG = 4096


@dataclass(frozen=True)
class Scenario:
    name: str
    known: bool  # a known Turkish-speaking caller (no language question) or an unknown one
    script: tuple[str, ...]  # ScriptedChannel tokens: "1" key, "^1" key during the prompt, "!" hang-up
    outcome: str


SCENARIOS = (
    Scenario("billing", False, ("1", "1"), "route"),
    Scenario("case_status", True, ("4", "12345678", "1"), "route"),
    Scenario("wrong_then_right", False, ("2", "7", "3"), "route"),
    Scenario("barge_in", False, ("^2", "^9"), "route"),
    Scenario("hangup_mid_menu", False, ("1", "!"), "abandoned"),
    Scenario("long_queue_callback", True, ("0", "1"), "callback"),
)


# -- the business side, shared by both parts ------------------------------------------------

Case = ScriptedCase
Caller = ScriptedCaller


def caller_for(scenario: Scenario) -> Caller:
    if not scenario.known:
        return Caller()
    return Caller(known=True, customer_id=42, name="Deniz", language="tr", tier="gold",
                  open_cases=[Case(7001, "Modem", "in_progress")], account_number="12345678")


class Services:
    async def verify_account(self, customer_id, account_number):
        return account_number == "12345678"

    async def case_status(self, customer_id):
        return Case(7001, "Modem", "in_progress")

    async def estimated_wait(self, queue):
        return 300.0 if queue == "general" else 20.0  # the general queue is long: callback offered


def opening_hours_clock():
    import datetime as dt
    from zoneinfo import ZoneInfo

    moment = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Istanbul"))  # a Monday morning
    return lambda: moment


# -- part 1: the pure engine ------------------------------------------------------------------

async def engine_steps_per_second(seconds: float) -> dict:
    from gateway.ivr.engine import run_flow
    from gateway.ivr.loader import load_flow
    from gateway.ivr.scripted_channel import ScriptedChannel

    flow = load_flow(ROOT / "ivr_flows" / "main.yaml")
    services, clock = Services(), opening_hours_clock()
    callers = [caller_for(s) for s in SCENARIOS]
    steps = calls = wrong = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for scenario, caller in zip(SCENARIOS, callers):
            result = await run_flow(flow, ScriptedChannel(scenario.script), caller, services, now=clock)
            steps += len(result.path)
            calls += 1
            wrong += result.outcome != scenario.outcome
    elapsed = time.perf_counter() - started
    return {"steps_per_s": steps / elapsed, "calls_per_s": calls / elapsed, "us_per_step": elapsed / steps * 1e6,
            "steps_per_call": steps / calls, "wrong": wrong}


# -- part 2: the server, in its own process ---------------------------------------------------

def serve() -> None:
    from gateway.loop import install_reactor

    loop = install_reactor()
    from gateway.agi.errors import AgiHangup
    from gateway.agi.server import FastAgiServer
    from gateway.calls.agi_channel import AgiChannel
    from gateway.ivr.engine import run_flow
    from gateway.ivr.registry import FlowRegistry

    flows = FlowRegistry(ROOT / "ivr_flows")
    services, clock = Services(), opening_hours_clock()
    callers = {s.name: caller_for(s) for s in SCENARIOS}

    async def inbound(session):
        # What gateway.calls.inbound does, minus the CRM and the ACD: run the flow, leave the verdict.
        scenario = session.request.query.get("scenario", "billing")
        result = await run_flow(flows.get("main"), AgiChannel(session), callers[scenario], services, now=clock)
        try:
            await session.set_variable("CTIGW_RESULT", result.outcome)
        except AgiHangup:
            pass

    async def serve_until_eof():
        server = FastAgiServer({ROUTE: inbound}, max_sessions=100_000, allowed_hosts=["127.0.0.1"])
        port = server.listen(0, backlog=BACKLOG).getHost().port
        await control_loop(port)
        await server.stop(grace=1.0)

    loop.run_until_complete(serve_until_eof())




# -- part 2: the client playing Asterisk ------------------------------------------------------

def environment(n: int, scenario: Scenario) -> bytes:
    return agi_environment(n, f"{ROUTE}?dnis=100&scenario={scenario.name}")


class PlayedCaller:
    """Asterisk's answers to the gateway's commands for one caller script, as Asterisk 22
    gives them: DTMF as ASCII codes, GET DATA digits in the result, `(timeout)` on silence,
    and for a hang-up an inline HANGUP, -1, then 511 for every later command."""

    def __init__(self, n: int, script):
        self.n = n
        self.script = deque(script)
        self.hung_up = False
        self.result = None

    def answer(self, line: str) -> bytes:
        if self.hung_up:
            return b"511 Command Not Permitted on a dead channel or intercepted\n"
        words = shlex.split(line)
        command = " ".join(words[:2]).upper()
        if command == "STREAM FILE":
            escape = words[3] if len(words) > 3 else ""
            token = self.script[0] if self.script else ""
            if escape and token == "!":
                return self._hang_up()
            if escape and token.startswith("^") and token[1] in escape:
                self.script.popleft()
                return f"200 result={ord(token[1])} endpos=4000\n".encode()
            return b"200 result=0 endpos=16000\n"
        if command == "WAIT FOR":
            token = self.script.popleft() if self.script else "!"
            if token == "!":
                return self._hang_up()
            token = token.lstrip("^")
            return f"200 result={ord(token) if token else 0}\n".encode()
        if command == "GET DATA":
            token = self.script.popleft() if self.script else "!"
            if token == "!":
                return self._hang_up()
            return f"200 result={token}\n".encode() if token else b"200 result= (timeout)\n"
        if command == "GET VARIABLE":
            value = {"UNIQUEID": f"1763893855.{self.n}", "CALLERID(num)": f"90532{self.n:07d}"}.get(words[2])
            return f"200 result=1 ({value})\n".encode() if value else b"200 result=0\n"
        if command == "SET VARIABLE":
            if words[2] == "CTIGW_RESULT":
                self.result = words[3]
            return b"200 result=1\n"
        return b"200 result=0\n"  # EXEC, SAY DIGITS, SAY NUMBER, VERBOSE

    def _hang_up(self) -> bytes:
        self.hung_up = True
        return b"HANGUP\n200 result=-1\n"


@dataclass
class RoundStats:
    first: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    commands: int = 0
    outcomes: Counter = field(default_factory=Counter)
    wrong: int = 0
    failed: int = 0
    wall: float = 0.0
    server_cpu: float = 0.0


class FakeAsterisk(asyncio.Protocol):
    def __init__(self, n: int, scenario: Scenario, stats: RoundStats, finished: asyncio.Future, think: float):
        self.n, self.scenario, self.stats, self.finished = n, scenario, stats, finished
        self.caller = PlayedCaller(n, scenario.script)
        self.think = think  # seconds Asterisk takes to answer (a prompt playing, a key coming)
        self.rng = random.Random(n)
        self.buffer = b""
        self.count = 0

    def connection_made(self, transport):
        self.transport = transport
        self.last_sent = time.perf_counter()
        transport.write(environment(self.n, self.scenario))

    def data_received(self, data: bytes):
        now = time.perf_counter()
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            (self.stats.first if self.count == 0 else self.stats.steps).append(now - self.last_sent)
            self.count += 1
            reply = self.caller.answer(line.decode())
            if self.think:
                asyncio.get_running_loop().call_later(self.think * self.rng.uniform(0.5, 1.5), self._send, reply)
            else:
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(reply)
        self.last_sent = time.perf_counter()

    def connection_lost(self, exc):
        self.stats.commands += self.count
        # A caller who hung up cannot hear the verdict: no CTIGW_RESULT reaches Asterisk.
        outcome = self.caller.result or ("abandoned" if self.caller.hung_up else "none")
        self.stats.outcomes[outcome] += 1
        self.stats.wrong += outcome != self.scenario.outcome
        if not self.finished.done():
            self.finished.set_result(None)


async def one_call(n: int, port: int, stats: RoundStats, think: float, start_at: float) -> None:
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    scenario = SCENARIOS[n % len(SCENARIOS)]
    if start_at:
        await asyncio.sleep(start_at)
    try:
        transport, _ = await loop.create_connection(lambda: FakeAsterisk(n, scenario, stats, finished, think),
                                                    "127.0.0.1", port)
    except OSError:
        stats.failed += 1
        return
    try:
        await asyncio.wait_for(finished, 60)
    except asyncio.TimeoutError:
        stats.failed += 1
    transport.close()


async def run_round(port: int, sessions: int, think: float = 0.0, ramp: float = 0.0) -> RoundStats:
    """`sessions` calls; with a `ramp`, call n connects at n/sessions * ramp seconds."""
    stats = RoundStats()
    started = time.perf_counter()
    await asyncio.gather(*(one_call(n, port, stats, think, ramp * n / sessions) for n in range(sessions)))
    stats.wall = time.perf_counter() - started
    return stats






async def fastagi_rounds(sessions: int, rounds: int, think: float, ramp: float) -> dict[str, list[RoundStats]]:
    """Rounds of a burst and of paced calls, interleaved so drift in the machine hits both."""
    server = ServerProcess(__file__)
    results: dict[str, list[RoundStats]] = {"burst": [], "paced": []}
    try:
        await run_round(server.port, 60)  # warm-up: imports, first allocations, flow load
        for _ in range(rounds):
            for mode, pause, spread in (("burst", 0.0, 0.0), ("paced", think, ramp)):
                before = server.cpu()
                stats = await run_round(server.port, sessions, pause, spread)
                stats.server_cpu = server.cpu() - before
                results[mode].append(stats)
    finally:
        server.close()
    return results


def report(engine: dict, modes: dict[str, list[RoundStats]], args) -> None:
    print(f"IVR engine benchmark: ivr_flows/main.yaml, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"\n1) pure engine, in-memory caller, {args.engine_seconds:.0f} s:")
    print(f"   {engine['steps_per_s']:,.0f} steps/s ({engine['us_per_step']:.1f} us/step), "
          f"{engine['calls_per_s']:,.0f} calls/s, {engine['steps_per_call']:.1f} steps/call, "
          f"wrong outcomes {engine['wrong']}")
    print(f"\n2) {args.sessions} concurrent IVR calls through FastAgiServer (server in its own process), "
          f"{args.rounds} rounds each:")
    print("   burst: all calls connect at once and Asterisk answers every command at once (worst case)")
    print(f"   paced: the same calls arriving over {args.ramp_s:g} s, Asterisk answering after {args.think_ms:.0f} ms "
          "+-50% (prompts playing; excluded from latency), so all are live together for a while")
    print(f"   {'mode':<7}{'wall s':>8}{'calls/s':>9}{'cmds/call':>10}{'step p50 ms':>12}{'step p99 ms':>12}"
          f"{'step max ms':>12}{'first p99':>10}{'cpu ms/call':>12}{'wrong':>6}{'failed':>7}")
    for mode, rounds in modes.items():
        for r in rounds:
            print(f"   {mode:<7}{r.wall:>8.2f}{args.sessions / r.wall:>9.0f}{r.commands / args.sessions:>10.1f}"
                  f"{percentile(r.steps, .5) * 1e3:>12.3f}{percentile(r.steps, .99) * 1e3:>12.3f}"
                  f"{max(r.steps) * 1e3:>12.3f}{percentile(r.first, .99) * 1e3:>10.1f}"
                  f"{r.server_cpu / args.sessions * 1e3:>12.3f}{r.wrong:>6}{r.failed:>7}")
    for mode, rounds in modes.items():
        steps = [x for r in rounds for x in r.steps]
        outcomes = dict(sum((r.outcomes for r in rounds), Counter()))
        print(f"   {mode}, all rounds: per-step p50 {percentile(steps, .5) * 1e3:.3f} ms, "
              f"p99 {percentile(steps, .99) * 1e3:.3f} ms over {len(steps):,} steps; "
              f"server CPU/call {statistics.median(r.server_cpu for r in rounds) / args.sessions * 1e3:.3f} ms; "
              f"outcomes {outcomes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine-seconds", type=float, default=3.0)
    parser.add_argument("--think-ms", type=float, default=300.0, help="paced mode: Asterisk's answer delay")
    parser.add_argument("--ramp-s", type=float, default=2.0, help="paced mode: calls arrive over this time")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        serve()
        return
    engine = asyncio.run(engine_steps_per_second(args.engine_seconds))
    modes = asyncio.run(fastagi_rounds(args.sessions, args.rounds, args.think_ms / 1000, args.ramp_s))
    report(engine, modes, args)


if __name__ == "__main__":
    main()
