"""How the ACD tries again to put a booked call through after the call layer failed to.

A failed connect is usually the AMI link blinking (a reconnect takes a second or two), so
attempts back to back would all fail within milliseconds and send the caller to the fallback
for nothing. Each failure waits longer before the next try: `initial`, then `factor` times
more, capped at `maximum`, each shortened by up to `jitter` of itself so that calls failing
together do not all retry together.
"""
from __future__ import annotations

import random as _random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ConnectRetry:
    attempts: int = 4  # connects tried in all; after the last failure the call leaves its queue
    initial: float = 1.0  # seconds before the second attempt
    maximum: float = 8.0
    factor: float = 2.0
    jitter: float = 0.25  # a delay is shortened by up to this fraction of itself

    def __post_init__(self):
        problems = []
        if not isinstance(self.attempts, int) or self.attempts < 1:
            problems.append(f"connect attempts must be a whole number >= 1, got {self.attempts!r}")
        if not 0 < self.initial <= self.maximum:
            problems.append(f"connect retry delays need 0 < initial <= maximum, got {self.initial!r} and "
                            f"{self.maximum!r}")
        if self.factor < 1:
            problems.append(f"connect retry factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter < 1:
            problems.append(f"connect retry jitter must be in [0, 1), got {self.jitter!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def base_delay(self, failures: int) -> float:
        """The un-jittered wait after the `failures`-th failed attempt (1 = the first)."""
        return min(self.maximum, self.initial * self.factor ** max(0, failures - 1))

    def delay(self, failures: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after the `failures`-th failure, in [base * (1 - jitter), base]."""
        base = self.base_delay(failures)
        return base * (1.0 - self.jitter * random())
