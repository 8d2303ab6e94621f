"""The gateway's one event loop: asyncio, with Twisted's asyncio reactor on top.

Protocol code is Twisted (it is tested with StringTransport and task.Clock); business code
is plain asyncio (redis.asyncio, SQLAlchemy asyncio). These helpers are the seam.
"""
from __future__ import annotations

import asyncio

from twisted.internet.defer import Deferred


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
