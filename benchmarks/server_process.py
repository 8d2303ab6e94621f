"""Shared by the FastAGI benchmarks: the server under test in its own process, the
environment block the client playing Asterisk sends, and percentiles.

The server process prints `READY <port>` once it listens, answers `cpu` on stdin with
`CPU <seconds>` (its own CPU time), and exits when stdin closes.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    def __init__(self, script: str, *args: str, label: str = "server"):
        self.label = label
        self.process = subprocess.Popen([sys.executable, script, "--serve", *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{label} did not start: {line!r}")
        self.port = int(line.split()[1])

    def cpu(self) -> float:
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline().split()[1])

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def control_loop(port: int) -> None:
    """Tell the parent the port; answer `cpu` with this process's CPU seconds; stop at EOF."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_stdin():
        for line in sys.stdin:
            if line.strip() == "cpu":
                loop.call_soon_threadsafe(lambda: print(f"CPU {time.process_time():.6f}", flush=True))
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_stdin, daemon=True).start()
    print(f"READY {port}", flush=True)
    await done.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def agi_environment(n: int, network_script: str) -> bytes:
    """The `agi_*` block Asterisk 22 sends for call number `n` (shape of the rig's captures)."""
    pairs = [
        ("network", "yes"), ("network_script", network_script), ("request", f"agi://127.0.0.1/{network_script}"),
        ("channel", f"PJSIP/carrier-{n:08x}"), ("language", "en"), ("type", "PJSIP"),
        ("uniqueid", f"1763893855.{n}"), ("version", "22.10.1"), ("callerid", f"90532{n:07d}"),
        ("calleridname", "unknown"), ("callingpres", "0"), ("callingani2", "0"), ("callington", "0"),
        ("callingtns", "0"), ("dnid", "100"), ("rdnis", "unknown"), ("context", "inbound"),
        ("extension", "100"), ("priority", "2"), ("enhanced", "0.0"), ("accountcode", ""),
        ("threadid", str(140000000000000 + n)),
    ]
    return "".join(f"agi_{k}: {v}\n" for k, v in pairs).encode() + b"\n"
