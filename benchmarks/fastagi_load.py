"""FastAGI load: N concurrent sessions of M commands against the gateway's server and against
panoramisk's FastAGI server, each in its own subprocess, driven by one asyncio client that
plays Asterisk. Prints sessions/s and per-command latency (p50/p99) for both, and the ratios.

    .venv/bin/python benchmarks/fastagi_load.py [--sessions 1000] [--commands 10] [--rounds 7]

Latency is measured by the client, as Asterisk would see it: from writing a reply to reading
the next command (from writing the environment block, for the first command). The handler is
the same on both servers: GET VARIABLE, SET VARIABLE and WAIT FOR DIGIT in turn, with the same
bytes on the wire. Both servers listen with a backlog of 4096 (framework defaults overflow
under a burst of 1,000 connections, which shows as 1 s SYN retransmits, not as server speed).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from server_process import ServerProcess, agi_environment, control_loop, percentile

ROOT = Path(__file__).resolve().parent.parent
ROUTE = "bench"
BACKLOG = 4096


def handler_commands(count: int) -> list[str]:
    """The command lines both handlers send, in order."""
    lines = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            lines.append(f'GET VARIABLE "BENCH_{i}"')
        elif kind == 1:
            lines.append(f'SET VARIABLE "BENCH_{i}" "value {i}"')
        else:
            lines.append('WAIT FOR DIGIT "100"')
    return lines


# -- servers (each runs in its own subprocess) ----------------------------------------------

def serve_gateway(commands: int) -> None:
    sys.path.insert(0, str(ROOT))
    from gateway.loop import install_reactor

    loop = install_reactor()
    from gateway.agi.server import FastAgiServer

    async def handler(session):
        # The same lines as handler_commands(), through the session's own methods.
        for i in range(commands):
            kind = i % 3
            if kind == 0:
                await session.get_variable(f"BENCH_{i}")
            elif kind == 1:
                await session.set_variable(f"BENCH_{i}", f"value {i}")
            else:
                await session.wait_for_digit(100)

    async def main():
        server = FastAgiServer({ROUTE: handler}, max_sessions=100_000, allowed_hosts=["127.0.0.1"])
        port = server.listen(0, backlog=BACKLOG).getHost().port
        await control_loop(port)
        await server.stop(grace=1.0)

    loop.run_until_complete(main())


def serve_panoramisk(commands: int) -> None:
    from panoramisk.fast_agi import Application

    lines = handler_commands(commands)

    async def handler(request):
        for line in lines:
            await request.send_command(line)

    async def main():
        app = Application(loop=asyncio.get_running_loop())
        app.add_route(ROUTE, handler)
        server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=BACKLOG)
        port = server.sockets[0].getsockname()[1]
        await control_loop(port)
        server.close()

    asyncio.run(main())




# -- the client that plays Asterisk ---------------------------------------------------------

def environment(n: int) -> bytes:
    return agi_environment(n, ROUTE)


def reply_to(command: bytes) -> bytes:
    if command.startswith(b"GET VARIABLE"):
        return b"200 result=1 (some value)\n"
    if command.startswith(b"WAIT FOR DIGIT"):
        return b"200 result=52\n"
    if command.startswith(b"SET VARIABLE"):
        return b"200 result=1\n"
    return b"200 result=0\n"


class FakeAsterisk(asyncio.Protocol):
    """One FastAGI connection, Asterisk's side: answers every command at once."""

    def __init__(self, env: bytes, stats: RoundStats, finished: asyncio.Future):
        self.env = env
        self.stats = stats
        self.finished = finished
        self.buffer = b""
        self.commands = 0
        self.last_sent = 0.0

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.env)
        self.last_sent = time.perf_counter()

    def data_received(self, data: bytes):
        now = time.perf_counter()
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            (self.stats.first if self.commands == 0 else self.stats.latency).append(now - self.last_sent)
            self.commands += 1
            if line == b"FAILURE":
                self.stats.refused += 1
                continue
            self.transport.write(reply_to(line))
            self.last_sent = time.perf_counter()

    def connection_lost(self, exc):
        if not self.finished.done():
            self.finished.set_result(self.commands)


@dataclass
class RoundStats:
    first: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    refused: int = 0
    failed: int = 0
    incomplete: int = 0
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


async def one_session(n: int, port: int, commands: int, stats: RoundStats) -> None:
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    try:
        transport, _ = await loop.create_connection(lambda: FakeAsterisk(environment(n), stats, finished),
                                                    "127.0.0.1", port)
    except OSError:
        stats.failed += 1
        return
    try:
        seen = await asyncio.wait_for(finished, 60)
    except asyncio.TimeoutError:
        seen = -1
    transport.close()
    if seen != commands:
        stats.incomplete += 1


async def run_round(port: int, sessions: int, commands: int) -> RoundStats:
    stats = RoundStats()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_session(n, port, commands, stats) for n in range(sessions)))
    stats.wall = time.perf_counter() - started
    stats.client_cpu = time.process_time() - cpu
    return stats


# -- orchestration --------------------------------------------------------------------------





def summarise(rounds: list[RoundStats], sessions: int) -> dict:
    """The median round by wall time, plus latency percentiles over all rounds."""
    median = sorted(rounds, key=lambda r: r.wall)[len(rounds) // 2]
    latency = [x for r in rounds for x in r.latency]
    first = [x for r in rounds for x in r.first]
    return {
        "sessions_per_s": sessions / median.wall,
        "wall": median.wall,
        "p50": percentile(latency, 0.50) * 1e3,
        "p99": percentile(latency, 0.99) * 1e3,
        "first_p50": percentile(first, 0.50) * 1e3,
        "first_p99": percentile(first, 0.99) * 1e3,
        "cpu_ms_per_session": statistics.median(r.server_cpu for r in rounds) / sessions * 1e3,
        "client_busy": statistics.median(r.client_cpu / r.wall for r in rounds),
        "problems": sum(r.refused + r.failed + r.incomplete for r in rounds),
        "rounds": [sessions / r.wall for r in rounds],
    }


async def drive(args) -> dict:
    servers = {kind: ServerProcess(__file__, kind, "--commands", str(args.commands), label=f"{kind} server")
               for kind in ("gateway", "panoramisk")}
    results = {kind: [] for kind in servers}
    try:
        for server in servers.values():  # warm-up: imports, first allocations
            await run_round(server.port, 50, args.commands)
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits both alike
            for kind, server in servers.items():
                cpu_before = server.cpu()
                stats = await run_round(server.port, args.sessions, args.commands)
                stats.server_cpu = server.cpu() - cpu_before
                results[kind].append(stats)
    finally:
        for server in servers.values():
            server.close()
    return {kind: summarise(rounds, args.sessions) for kind, rounds in results.items()}


def report(summary: dict, args) -> None:
    print(f"FastAGI load: {args.sessions} concurrent sessions x {args.commands} commands, "
          f"{args.rounds} rounds per server (median round shown), {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    print("latency = client-side, from Asterisk's reply to the next command; first = env block -> first command;")
    print("cpu ms/sess = the server process's CPU per session; client busy = the client's CPU / wall time")
    header = f"{'server':<12}{'sessions/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'first p50':>11}{'first p99':>11}" \
             f"{'cpu ms/sess':>13}{'client busy':>13}{'problems':>10}   rounds (sessions/s)"
    print(header)
    for kind, s in summary.items():
        rounds = ", ".join(f"{x:.0f}" for x in s["rounds"])
        print(f"{kind:<12}{s['sessions_per_s']:>12.0f}{s['p50']:>9.3f}{s['p99']:>9.3f}{s['first_p50']:>11.3f}"
              f"{s['first_p99']:>11.3f}{s['cpu_ms_per_session']:>13.3f}{s['client_busy']:>12.0%}"
              f"{s['problems']:>10}   {rounds}")
    g, p = summary["gateway"], summary["panoramisk"]
    print(f"gateway / panoramisk: sessions/s x{g['sessions_per_s'] / p['sessions_per_s']:.2f}, "
          f"p50 x{g['p50'] / p['p50']:.2f}, p99 x{g['p99'] / p['p99']:.2f}, "
          f"server CPU per session x{g['cpu_ms_per_session'] / p['cpu_ms_per_session']:.2f} "
          f"(below 1 is faster for latency and CPU, above 1 for sessions/s)")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--serve", choices=["gateway", "panoramisk"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    if args.serve == "gateway":
        serve_gateway(args.commands)
    elif args.serve == "panoramisk":
        serve_panoramisk(args.commands)
    else:
        report(asyncio.run(drive(args)), args)


if __name__ == "__main__":
    main()
