"""A small progress bar for long CRM jobs (import, demo data) on stderr.

On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line every few
seconds instead of flooding the log.
"""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, unit: str = "rows", stream=None, enabled: bool = True):
        self.total = max(0, total)
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._interval = 0.1 if self._tty else 5.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw(final=False)

    def finish(self) -> None:
        if self.enabled:
            self._draw(final=True)

    def _draw(self, final: bool) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            eta = (self.total - self.done) / rate if rate and not final else 0.0
            line = (f"{self.label} [{bar:<30}] {self.done:,}/{self.total:,} {self.unit} "
                    f"{share:6.1%} {rate:,.0f}/s" + (f" eta {eta:,.0f}s" if not final else f" in {elapsed:,.1f}s"))
        else:
            line = f"{self.label} {self.done:,} {self.unit} {rate:,.0f}/s"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
