"""Reconnect delays: exponential growth, capped, with jitter so many gateways do not reconnect
to a restarted Asterisk in lock-step."""
from __future__ import annotations

import random as _random
from collections.abc import Callable


class Backoff:
    """`next_delay()` lies in [base * (1 - jitter), base], base = min(maximum, initial * factor**n).

    Jitter only shortens a delay, so `maximum` is a hard ceiling.
    """

    def __init__(self, initial: float, maximum: float, *, factor: float = 2.0, jitter: float = 0.25,
                 random: Callable[[], float] = _random.random):
        if not 0 < initial <= maximum:
            raise ValueError("need 0 < initial <= maximum")
        if not 0 <= jitter < 1 or factor < 1:
            raise ValueError("need 0 <= jitter < 1 and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._random = random
        self.attempts = 0

    def base_delay(self) -> float:
        return min(self.maximum, self.initial * self.factor ** self.attempts)

    def next_delay(self) -> float:
        base = self.base_delay()
        if base < self.maximum:  # stop counting once capped: no float overflow after days down
            self.attempts += 1
        return base * (1.0 - self.jitter * self._random())

    def reset(self) -> None:
        self.attempts = 0
