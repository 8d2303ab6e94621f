"""HTTP API tests: a real ApiServer on loopback (port 0) over a real ACD on a real Redis
(CTIGW_TEST_REDIS_URL), with a key prefix of its own per test, removed afterwards."""
import asyncio
import os
import uuid

import pytest
import redis.asyncio as aioredis
from doubles import RecordingConnector

from gateway.acd.service import Acd
from gateway.api.server import ApiServer
from gateway.config import Settings
from api_testing import SECRET

REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_client():
    client = aioredis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except Exception as exc:
        pytest.fail(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def acd(redis_client):
    prefix = f"ctigw-test-api-{uuid.uuid4().hex[:12]}"
    acd = Acd.from_settings(Settings(), redis_client, connector=RecordingConnector(), key_prefix=prefix)
    await acd.start(background=False)
    yield acd
    await acd.stop()
    async for key in redis_client.scan_iter(match="%s:*" % prefix, count=1000):
        await redis_client.delete(key)


@pytest.fixture
async def api(acd):
    server = ApiServer(acd, SECRET)
    server.listen(0, "127.0.0.1")
    yield server
    await server.stop()
