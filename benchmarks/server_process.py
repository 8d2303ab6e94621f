"""Shared by the FastAGI benchmarks: the server under test in its own process, and percentiles.

The server process prints `READY <port>` once it listens, answers `cpu` on stdin with
`CPU <seconds>` (its own CPU time), and exits when stdin closes.
"""
from __future__ import annotations

import subprocess
import sys
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
