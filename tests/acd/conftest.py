"""Redis-backed ACD tests: a real Redis (CTIGW_TEST_REDIS_URL, default 127.0.0.1:6379), a key
prefix of its own per test, removed afterwards; time driven by a fake clock and acd.tick()."""
import uuid
from pathlib import Path

import pytest
from doubles import RecordingConnector

from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.service import Acd

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
async def key_prefix(redis_client):
    prefix = f"ctigw-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    async for key in redis_client.scan_iter(match="%s:{acd}:*" % prefix, count=1000):
        await redis_client.delete(key)


@pytest.fixture
def connector_class():
    return RecordingConnector


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def demo_roster():
    return load_roster(AGENTS_DIR / "roster.yaml")


@pytest.fixture
def demo_queues(demo_roster):
    return load_queue_config(AGENTS_DIR / "queues.yaml", roster=demo_roster, default_wrapup_seconds=10)


@pytest.fixture
async def make_acd(redis_client, key_prefix, clock, demo_roster, demo_queues):
    """Build ACD instances on the test's prefix; they are stopped at the end."""
    made = []

    async def factory(*, connector=None, instance="gw1", roster=None, queues=None, background=False,
                      tick_interval=0.05, **kw):
        acd = Acd(redis_client, roster or demo_roster, queues or demo_queues,
                  connector=connector if connector is not None else RecordingConnector(),
                  key_prefix=key_prefix, instance=instance, clock=clock, **kw)
        await acd.start(background=background, tick_interval=tick_interval)
        made.append(acd)
        return acd

    yield factory
    for acd in made:
        await acd.stop()
