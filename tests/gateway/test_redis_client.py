"""The gateway's Redis client under a burst: more commands in flight at once than its pool has
connections wait for a connection instead of failing (an ACD state change must not be lost
because hundreds of desks checked their sessions at the same moment)."""
import asyncio
import os
import uuid

from gateway.config import RedisSettings
from gateway.redis_client import MAX_CONNECTIONS, gateway_redis

REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing():
    client = gateway_redis(REDIS_URL, RedisSettings(url=REDIS_URL))
    key = f"ctigw-test-burst-{uuid.uuid4().hex[:12]}"
    try:
        # Each BLPOP holds its connection until it times out: the burst outgrows the pool.
        popped = await asyncio.gather(*(client.blpop([f"{key}:{n}"], timeout=0.2)
                                        for n in range(MAX_CONNECTIONS + 20)))
        assert popped == [None] * (MAX_CONNECTIONS + 20)
        assert await client.incr(key) == 1  # and the client still works afterwards
    finally:
        await client.delete(key)
        await client.aclose()
