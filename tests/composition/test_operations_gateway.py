"""The operations endpoints of the whole gateway (gateway.app.Gateway) over HTTP, without
Asterisk: AMI and FastAGI talk to the recorded byte streams (fake_asterisk.py), the ACD to a
real Redis reached through a relay the test can freeze (a Redis that hangs) or shut (a Redis
that is down), the CRM to a real SQLite file. /metrics is read with prometheus_client's
parser as Prometheus would; its figures must move with what really happens to a call."""
from __future__ import annotations

import asyncio
import contextlib
import secrets
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis

from fake_asterisk import AgiCaller, AmiReplay
from gateway.app import Gateway
from scraping import parse
from test_gateway_composition import (AGENT, KEYS, OFFICE_HOURS, REDIS_URL, agent_leg, AGENT_LEG_RENAME, call_setup,
                                      gateway_settings)
from waiting import wait_until


class RedisRelay:
    """A TCP relay in front of the test Redis. `freeze()`: connections are still accepted and
    requests still sent, but nothing goes through either way (a Redis that hangs); `shut()`:
    nothing listens (a Redis that is down); `open()` undoes both."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = parts.path or "/0"
        self.port = 0
        self._server = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.db}"

    async def open(self) -> None:
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self._flowing.clear()

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._links.discard(w)
            w.transport.abort()

    async def _pipe(self, reader, writer) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


@pytest.fixture
async def relay():
    relay = RedisRelay(REDIS_URL)
    await relay.open()
    yield relay
    await relay.shut()


@pytest.fixture
async def ami():
    replay = AmiReplay("ctigw", secrets.token_urlsafe(12))
    await replay.start()
    yield replay
    with contextlib.suppress(Exception):
        await replay.stop()


@pytest.fixture
async def gateway(ami, relay, tmp_path):
    s = gateway_settings(ami, tmp_path)
    s.redis.url = relay.url
    s.http.token_secret, s.http.port = "operations-" + "s" * 20, 0
    gw = Gateway(s, ivr_clock=lambda: OFFICE_HOURS)
    await gw.start()
    try:
        await gw.ami.wait_connected(10)
        yield gw
    finally:
        await relay.open()  # whatever the test left it: the gateway stops cleanly
        await gw.stop()
        client = aioredis.from_url(REDIS_URL)
        async for key in client.scan_iter(match=f"{s.redis.key_prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()


@pytest.fixture
async def http(gateway):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.api.port}", timeout=30) as client:
        yield client


async def scrape(http):
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return parse(r.text)


async def test_metrics_follow_a_call_through_the_ivr_the_queue_and_the_answer(gateway, ami, http):
    gw = gateway
    roster = len(gw.acd.roster.agents)
    seen = await scrape(http)
    assert seen.value("ctigw_ami_connected") == 1
    assert seen.value("ctigw_acd_state_up") == 1
    assert seen.value("ctigw_fastagi_sessions_in_flight") == 0
    assert seen.value("ctigw_queue_calls_waiting", queue="billing") == 0
    assert seen.value("ctigw_agents", state="logged_out") == roster
    assert seen.value("ctigw_crm_spool_activities", state="pending") == 0

    # Çağrı calls; no agent is logged in, so after the IVR he waits in billing.
    await ami.send_events(call_setup())
    await AgiCaller(KEYS).call(gw.agi.port)
    seen = await wait_until(lambda: _when(http, "ctigw_queue_calls_waiting", 1, queue="billing"), 10,
                            "billing's waiting call in /metrics")
    assert seen.value("ctigw_queue_longest_wait_seconds", queue="billing") >= 0
    assert seen.value("ctigw_queue_calls_waiting", queue="sales") == 0
    assert seen.value("ctigw_fastagi_sessions_total", reason="completed") == 1
    assert seen.value("ctigw_fastagi_sessions_in_flight") == 0
    assert seen.value("ctigw_crm_lookup_seconds_count", result="found") == 1  # he is a known customer
    assert sum(seen.series("ctigw_routing_decisions_total").values()) == 0

    # The agent logs in: the ACD books them for the call, which leaves the queue.
    await gw.acd.login(AGENT)
    seen = await wait_until(lambda: _when(http, "ctigw_queue_calls_waiting", 0, queue="billing"), 10,
                            "billing's queue empty in /metrics")
    decided = {dict(k)["rule"]: v for k, v in seen.series("ctigw_routing_decisions_total").items()
               if dict(k)["queue"] == "billing" and v}
    assert sum(decided.values()) == 1, decided
    assert seen.value("ctigw_agents", state="logged_out") == roster - 1
    assert seen.value("ctigw_agents", state="available") == 0

    # The agent's phone rings and they answer: the call's wait is observed, once.
    await ami.send_events(agent_leg("Newchannel", "DialBegin"), rename=AGENT_LEG_RENAME)
    await ami.send_events(agent_leg("DialEnd"), rename=AGENT_LEG_RENAME)
    # The wait is counted when the answer's event arrives; the agent's state is read from Redis at
    # the scrape: on a busy machine one may show a scrape before the other.
    seen = await wait_until(lambda: _both(http, ("ctigw_call_wait_seconds_count", 1, {"queue": "billing"}),
                                          ("ctigw_agents", 1, {"state": "on_call"})), 10,
                            "the answered call's wait and the agent on the call in /metrics")
    assert seen.value("ctigw_call_wait_seconds_sum", queue="billing") > 0


async def _both(http, *wanted):
    seen = await scrape(http)
    return seen if all(seen.value(name, **labels) == expected for name, expected, labels in wanted) else None


async def _when(http, name, expected, **labels):
    seen = await scrape(http)
    return seen if seen.value(name, **labels) == expected else None


async def test_ready_until_redis_hangs_or_is_down_or_ami_is_lost_and_each_is_named(gateway, relay, ami, http):
    r = await http.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] and body["failed"] == []
    assert body["checks"]["crm"] == {"ok": True, "detail": "database answered"}
    assert {name: c["ok"] for name, c in body["checks"].items()} == \
        {"ami": True, "redis": True, "crm": True, "fastagi": True}
    assert (await http.get("/healthz")).json() == {"status": "alive"}

    relay.freeze()  # Redis takes the requests and never answers
    r = await http.get("/readyz")
    assert (r.status_code, r.json()["failed"]) == (503, ["redis"])
    assert r.json()["checks"]["redis"] == {"ok": False, "detail": "no answer within 1 s"}
    seen = await scrape(http)  # the scrape answers too, without the ACD's state
    assert seen.value("ctigw_acd_state_up") == 0 and seen.value("ctigw_ami_connected") == 1
    assert (await http.get("/healthz")).status_code == 200  # alive all the same

    await relay.shut()  # Redis is down: connections refused
    r = await http.get("/readyz")
    assert (r.status_code, r.json()["failed"]) == (503, ["redis"])
    assert r.json()["checks"]["redis"]["detail"].startswith("failed (")

    await relay.open()
    await wait_until(lambda: _ready(http), 30, "ready again once Redis is back")

    await ami.stop()  # Asterisk's AMI goes away
    r = await wait_until(lambda: _not_ready(http), 30, "not ready without AMI")
    assert r.json()["failed"] == ["ami"]
    assert r.json()["checks"]["ami"] == {"ok": False, "detail": "not logged in to AMI"}
    assert (await scrape(http)).value("ctigw_ami_connected") == 0


async def _ready(http):
    return (await http.get("/readyz")).status_code == 200


async def _not_ready(http):
    r = await http.get("/readyz")
    return r if r.status_code == 503 else None
