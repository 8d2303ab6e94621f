"""Waiting in async tests, shared by every tier: poll a condition with a deadline, or let the
loop run what is ready.

Tests run on the suite's one loop (tests/conftest.py), so these are plain coroutines.
"""
from __future__ import annotations

import asyncio
import inspect


async def wait_until(predicate, timeout: float = 5.0, what: str = "the condition", interval: float = 0.05):
    """Poll `predicate` (a function, sync or async) until it returns something truthy; return
    that. Fails the test with `what` in the message when `timeout` seconds pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


async def settle(rounds: int = 20) -> None:
    """Let the loop run the callbacks and tasks that are ready, without letting time pass
    (for code driven by a fake clock)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
