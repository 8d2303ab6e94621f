"""HTTP API tests: the web application of tests/web_fixtures.py, reached with bearer tokens."""
import pytest
from web_fixtures import acd, key_prefix, start, web  # noqa: F401


@pytest.fixture
async def api(web):
    return web
