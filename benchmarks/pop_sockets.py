"""The agents' browsers of benchmarks/screen_pop.py, in their own process: one WebSocket per
agent to the gateway's /desk/ws (with the agent's session cookie and the page's Origin, as the
desk page opens it) and one per agent to the floor's /ws/<agent>. Each message is stamped with
the system-wide monotonic clock as it is read, before it is parsed; a pop is timed by its
first arrival (an offer's call id). Every message the gateway's sockets read is also logged
(when, to which agent, its size and kind, and a pop's text), and handed over when the gateway's phase is over:
the schedule the floor then replays."""
from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect

BATCH = 50  # sockets opened at once: the servers' accept backlog is not what is measured


def sockets_main(gateway_port: int, cookies: dict[str, str], floor_port: int, ready, gateway_over, done,
                 results) -> None:
    results.put(asyncio.run(_hold(gateway_port, cookies, floor_port, ready, gateway_over, done, results)))


def _kind(message: dict) -> tuple[str, str | None]:
    """("offer"/"answered"/... or "agent" or "hello", the desk message's call id if any)."""
    if message.get("type") == "desk":
        desk = message.get("desk") or {}
        return str(desk.get("kind")), desk.get("call_id")
    return str(message.get("type")), None


async def _hold(gateway_port, cookies, floor_port, ready, gateway_over, done, results) -> dict:
    arrived = {"gateway": {}, "floor": {}}
    counts = {"gateway": 0, "floor": 0}
    log: list[tuple] = []  # gateway's: (when, agent, bytes, kind, call id, the text itself if a pop)
    sockets = []

    async def gateway_socket(agent: str, cookie: str):
        origin = f"http://127.0.0.1:{gateway_port}"
        socket = await connect(f"ws://127.0.0.1:{gateway_port}/desk/ws", origin=origin, open_timeout=60,
                               additional_headers={"Cookie": f"ctigw_session={cookie}"}, max_size=2 ** 22)
        hello = json.loads(await asyncio.wait_for(socket.recv(), 60))
        if hello.get("type") != "hello" or hello["agent"]["agent_id"] != agent:
            raise RuntimeError(f"agent {agent}: no hello on the desk socket: {hello}")
        sockets.append(socket)
        return socket

    async def floor_socket(agent: str):
        socket = await connect(f"ws://127.0.0.1:{floor_port}/ws/{agent}", open_timeout=60, max_size=2 ** 22)
        sockets.append(socket)
        return socket

    async def read(socket, agent: str, server: str):
        async for raw in socket:
            at = time.monotonic()
            counts[server] += 1
            kind, call_id = _kind(json.loads(raw))
            if kind == "offer":
                arrived[server].setdefault(call_id, at)
            if server == "gateway":
                log.append((at, agent, len(raw.encode()), kind, call_id, raw if kind == "offer" else None))

    agents = list(cookies)
    readers = []
    for start in range(0, len(agents), BATCH):
        batch = agents[start:start + BATCH]
        opened = await asyncio.gather(*(gateway_socket(a, cookies[a]) for a in batch))
        readers += [asyncio.ensure_future(read(s, a, "gateway")) for s, a in zip(opened, batch)]
        opened = await asyncio.gather(*(floor_socket(a) for a in batch))
        readers += [asyncio.ensure_future(read(s, a, "floor")) for s, a in zip(opened, batch)]
    ready.set()
    await asyncio.to_thread(gateway_over.wait)
    results.put(log)
    await asyncio.to_thread(done.wait)
    for socket in sockets:
        await socket.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return {"arrived": arrived, "messages": counts}
