"""One event loop for the whole suite: asyncio, with Twisted's asyncio reactor on it.

The gateway runs Twisted protocols and asyncio libraries (redis.asyncio, SQLAlchemy
asyncio) on one loop, so the tests do too. `async def` tests run on that loop; fixtures
that need it call `run(coro)`.
"""
import asyncio
import inspect
import os

import pytest
from gateway.loop import install_reactor

LOOP = install_reactor()

ASYNC_TEST_TIMEOUT = float(os.environ.get("CTIGW_TEST_TIMEOUT", "300"))


def run(coro, timeout: float = ASYNC_TEST_TIMEOUT):
    """Run a coroutine to completion on the suite's loop (for fixtures)."""
    return LOOP.run_until_complete(asyncio.wait_for(coro, timeout))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        run(pyfuncitem.obj(**kwargs))
        return True
    return None
