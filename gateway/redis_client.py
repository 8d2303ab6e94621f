"""The gateway's one Redis client, shared by the ACD, the call layer, the desk and the web.

Its connection pool waits for a free connection (up to the reply timeout) instead of failing:
redis-py's default pool raises MaxConnectionsError the moment more than its 100 connections
are in use at once, which a burst of work does (hundreds of agents' desks checking their
sessions together), and the command that fails may be an ACD state change.
"""
from __future__ import annotations

import redis.asyncio as aioredis

MAX_CONNECTIONS = 100  # commands in flight at once beyond this wait for a connection


def gateway_redis(url: str, settings) -> aioredis.Redis:
    """A client for `url` with [redis]'s timeouts (`settings`: config.RedisSettings)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout, socket_timeout=settings.socket_timeout,
        health_check_interval=settings.health_check_interval)
    return aioredis.Redis.from_pool(pool)
