"""One event loop for the whole suite, and the test tiers.

The loop: the gateway runs Twisted protocols and asyncio libraries (redis.asyncio, SQLAlchemy
asyncio) on one asyncio loop with Twisted's asyncio reactor on it, so the tests do too.
pytest-asyncio runs every `async def` test and fixture (asyncio_mode = auto) on its session
loop, and that loop is the one the reactor was installed on here, before any test module
imports Twisted.

The tiers, as markers set by folder (a test that declares one of them keeps its own):
  unit      tests/unit: no service at all, runs on a bare machine (`scripts/test -m unit`)
  services  everything else outside tests/e2e: real Redis, SQLite, PostgreSQL
  e2e       tests/e2e: a real Asterisk 22 with pjsua2 phones
"""
import asyncio
import logging
import os
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.loop import install_reactor

LOOP = install_reactor()
REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "services", "e2e")
TIER_BY_FOLDER = {TESTS / "unit": "unit", TESTS / "e2e": "e2e"}


class _SuiteLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Hands pytest-asyncio's session runner the reactor's loop; every later new_event_loop()
    (e.g. asyncio.run in a CLI command a test calls) gets a loop of its own as usual."""

    def __init__(self):
        super().__init__()
        self._handed_out = False

    def new_event_loop(self):
        if not self._handed_out:
            self._handed_out = True
            return LOOP
        return super().new_event_loop()


@pytest.fixture(scope="session")
def event_loop_policy():
    # Not the pytest_asyncio_loop_factories hook: with it, a sync test using an async fixture
    # gets a runner on another loop and tears the session's fixtures down
    # (pytest-dev/pytest-asyncio#1501). The deprecation warning is filtered in pyproject.toml.
    return _SuiteLoopPolicy()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        path = Path(item.path).resolve()
        tier = next((t for folder, t in TIER_BY_FOLDER.items() if folder in path.parents), "services")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def _suite_loop_and_logging_restored():
    # A CLI command a test runs in-process (`main([...])`) leaves state behind: asyncio.run
    # leaves no current loop, and the CLI's setup_logging replaces the root handlers with one
    # on a captured (later closed) stderr whose secret filter rewrites records. Later tests
    # must find the suite's loop and pytest's own log capture.
    asyncio.set_event_loop(LOOP)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def redis_client():
    """The tests' real Redis (scripts/services); the services tier's tests share it, each
    under a key prefix of its own."""
    client = aioredis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except Exception as exc:  # the suite needs the real server; say so plainly
        pytest.fail(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()
