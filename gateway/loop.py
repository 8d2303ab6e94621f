"""The gateway's one event loop: asyncio, with Twisted's asyncio reactor on top.

Protocol code is Twisted (it is tested with StringTransport and task.Clock); business code
is plain asyncio (redis.asyncio, SQLAlchemy asyncio). These helpers are the seam.
"""
from __future__ import annotations

import asyncio

from twisted.internet.defer import Deferred, maybeDeferred


def install_reactor(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.AbstractEventLoop:
    """Install Twisted's asyncio reactor on `loop` (a new one if None); idempotent."""
    import sys

    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor

        existing = getattr(reactor, "_asyncioEventloop", None)
        if existing is None:
            raise RuntimeError("a non-asyncio Twisted reactor is already installed")
        return existing
    from twisted.internet import asyncioreactor

    loop = loop or asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    return loop


def as_future(d: Deferred) -> asyncio.Future:
    """Await a Twisted Deferred from asyncio code."""
    return d.asFuture(asyncio.get_event_loop())


async def stop_listening(port) -> None:
    """Close a Twisted listening port (IListeningPort) from asyncio code."""
    await as_future(maybeDeferred(port.stopListening))


async def finish_tasks(tasks, grace: float) -> None:
    """Give in-flight tasks up to `grace` seconds, then cancel the rest and wait for them."""
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def freeze_startup_heap() -> None:
    """Once a long-running process has started: collect, then move everything alive (modules,
    configuration, templates, the roster; they live as long as the process) out of the
    collector's sight. A full collection pauses the loop for as long as it takes to walk every
    tracked object; without the startup heap, that pause is a fraction (the screen pop's tail
    latency, benchmarks/screen_pop.py). Only for the process's own main: objects frozen are
    never collected."""
    import gc

    gc.collect()
    gc.freeze()
