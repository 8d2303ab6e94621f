"""The floor of benchmarks/screen_pop.py, in its own process: a bare broadcast on the same
framework as the gateway's desk (FastAPI on uvicorn, served by gateway.web.server.WebServer
with the gateway's own uvicorn settings: h11, wsproto), with no gateway logic.

Each agent's socket is `/ws/<agent>`. One Redis subscriber for the whole process (a pattern
on every agent's channel) relays each message, as is, to that agent's sockets. The process
publishes the payloads itself, paced as the gateway's calls are: the floor is what one
PUBLISH -> SUBSCRIBE -> WebSocket send costs on this framework, in the same processes layout.

Two phases: one message a call (the pop alone), and the replay of the gateway phase's socket
traffic (a schedule of (offset, agent, payload, pop's call id or None) built from what the
gateway's sockets read: every message, of the same size, at the same offset from the phase's
start, each pop published at its call's DialBegin offset).
"""
from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.desk.service import desk_channel
from gateway.web.server import WebServer

from pop_common import paced, serve_commands


def floor_main(conn, redis_url: str, prefix: str, agents: list[str], payloads: list[str]) -> None:
    asyncio.run(_serve(conn, redis_url, prefix, agents, payloads))


def floor_app(redis, prefix: str) -> tuple[FastAPI, object]:
    app = FastAPI()
    sockets: dict[str, set[WebSocket]] = {}

    @app.websocket("/ws/{agent}")
    async def agent_socket(websocket: WebSocket, agent: str):
        await websocket.accept()
        sockets.setdefault(agent, set()).add(websocket)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            sockets[agent].discard(websocket)

    async def relay():
        pubsub = redis.pubsub()
        await pubsub.psubscribe(desk_channel(prefix, "*"))
        skip = len(desk_channel(prefix, ""))
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            data = message["data"].decode()
            for websocket in list(sockets.get(message["channel"][skip:].decode(), ())):
                with contextlib.suppress(Exception):
                    await websocket.send_text(data)

    return app, relay


async def _serve(conn, redis_url, prefix, agents, payloads) -> None:
    redis = aioredis.from_url(redis_url)
    app, relay = floor_app(redis, prefix)
    relaying = asyncio.ensure_future(relay())
    server = WebServer(app)
    port = await server.start(0, "127.0.0.1", backlog=1024)

    async def publish(i: int):
        t0 = time.monotonic()
        await redis.publish(desk_channel(prefix, agents[i % len(agents)]), payloads[i])
        return f"floor.{i}", t0

    async def replay(schedule):
        started: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for offset, agent, payload, pop in schedule:
            delay = begin + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.monotonic()
            await redis.publish(desk_channel(prefix, agent), payload)
            if pop is not None:
                started[pop] = t0
        return started

    async def phase(count: int, rate: float, first: int, schedule=None):
        started = await (paced(count, rate, publish, first) if schedule is None else replay(schedule))
        await asyncio.sleep(1.0)
        return {"started": started, "unbooked": 0}

    try:
        await serve_commands(conn, {"port": port}, phase)
    finally:
        relaying.cancel()
        with contextlib.suppress(BaseException):
            await relaying
        await server.stop()
        await redis.aclose()
