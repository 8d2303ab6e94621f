"""Fixtures of the web and API tests (tests/web, tests/api): the real application served by
uvicorn on loopback over a real ACD on a real Redis (CTIGW_TEST_REDIS_URL, a key prefix of its
own per test, removed afterwards) and a migrated SQLite CRM file holding the accounts and the
audit log. Each of those folders' conftest imports what it uses from here."""
import uuid

import pytest
from doubles import RecordingConnector

from gateway.acd.service import Acd
from gateway.config import Settings
from web_testing import start_web


@pytest.fixture
async def key_prefix(redis_client):
    prefix = f"ctigw-test-web-{uuid.uuid4().hex[:12]}"
    yield prefix
    async for key in redis_client.scan_iter(match="%s:*" % prefix, count=1000):
        await redis_client.delete(key)


@pytest.fixture
async def acd(redis_client, key_prefix):
    acd = Acd.from_settings(Settings(), redis_client, connector=RecordingConnector(), key_prefix=key_prefix)
    await acd.start(background=False)
    yield acd
    await acd.stop()


@pytest.fixture
async def start(acd, redis_client, key_prefix, tmp_path):
    """start(**settings) -> a running web application; all are stopped after the test."""
    running = []

    async def start(**kwargs):
        web = await start_web(acd, redis_client, key_prefix, tmp_path / "crm.sqlite3", **kwargs)
        running.append(web)
        return web

    yield start
    for web in running:
        await web.stop()


@pytest.fixture
async def web(start):
    return await start()
