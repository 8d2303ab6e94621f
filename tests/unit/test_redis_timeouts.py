"""A Redis that accepts connections and never answers must stop the gateway's start within
[redis] socket_timeout, not hang it (and so every call behind it)."""
import asyncio

import pytest
import redis.exceptions

from gateway.app import Gateway
from gateway.config import load_settings


async def test_a_silent_redis_fails_the_start_within_the_read_timeout(tmp_path):
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    settings = load_settings(environ={"CTIGW_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                                      "CTIGW_REDIS_SOCKET_TIMEOUT": "0.3",
                                      "CTIGW_GATEWAY_STATE_DIR": str(tmp_path)})
    gateway = Gateway(settings)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(redis.exceptions.TimeoutError, match="Timeout reading"):
            await asyncio.wait_for(gateway.start(), 10)
        assert loop.time() - started < 3
    finally:
        await gateway.redis.aclose()
        silent.close()
