"""The gateway side of benchmarks/screen_pop.py, in its own process: the real ACD, call tracker,
desk service and web application (FastAPI on uvicorn, /desk/ws), as `ctigw` puts them together
on one loop, with one signed-in session per agent.

The process plays Asterisk for the calls it is told to run: each call is queued in the real
ACD (which books an agent: longest idle, in effect round robin), then its DialBegin frame goes
through ami_bridge.to_call_event -> CallTracker.handle (the timed part starts here) -> the pop
on the agent's desk channel -> /desk/ws -> the agent's socket. Each call then lives on as a
real one would, untimed: answered a second later, hung up `talk` seconds after that, the
agent in wrap-up for WRAPUP seconds; so the sockets also carry each call's answered/ended desk
messages and every ACD state change, as they would in production.
"""
from __future__ import annotations

import asyncio
import gc
import shutil
import cProfile
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from gateway.acd.queue_config import QueueConfig, QueuePolicy
from gateway.acd.roster import Agent, Roster, Team
from gateway.acd.service import Acd
from gateway.calls.ami_bridge import to_call_event
from gateway.calls.tracker import CallTracker
from gateway.config import Settings
from gateway.crm.migrate import sync_engine, upgrade_database
from gateway.desk.service import DeskService
from gateway.loop import freeze_startup_heap
from gateway.redis_client import gateway_redis
from gateway.routing import RouteRequest
from gateway.web.accounts import AccountStore
from gateway.web.app import create_app
from gateway.web.server import WebServer
from gateway.web.services import web_services

from pop_common import caller, paced, serve_commands

ROUTE = RouteRequest("billing", ("billing",), "tr", 2)
WRAPUP = 2.0  # seconds of after-call work before the ACD makes the agent available again
ANSWER_AFTER = 1.0  # seconds the agent's phone rings
# Accounts are real rows, but hashed cheaply: 500 production-cost argon2 hashes would take
# minutes and are not what is measured (the sessions are made by the session store itself).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def agent_id(n: int) -> str:
    return f"{10000 + n}"


class BenchConnector:
    """The ACD's hands on Asterisk (gateway.acd.model.Connector), as AmiConnector: tells the
    tracker who was booked and why; the Redirect itself is the DialBegin the pacer sends."""

    def __init__(self):
        self.calls = None  # the tracker
        self.booked: dict[str, str] = {}

    async def connect(self, call, agent) -> None:
        match = getattr(call, "match", None)
        self.calls.offered(call.call_id, agent.id, match.to_dict() if match is not None else None)
        self.booked[call.call_id] = agent.endpoint

    async def announce(self, call, position, estimated_wait) -> None:
        return None

    async def queue_outcome(self, call, outcome) -> None:
        return None


async def _nothing(call) -> None:
    return None


def gateway_main(conn, redis_url: str, prefix: str, agents: int, talk: float, profile: str | None) -> None:
    from gateway.loop import install_reactor

    loop = install_reactor()  # the gateway's loop: asyncio with Twisted's reactor on it
    loop.run_until_complete(_serve(conn, redis_url, prefix, agents, talk, profile))


async def _serve(conn, redis_url, prefix, n_agents, talk, profile) -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="ctigw-bench-pop-"))
    settings = Settings(gateway={"state_dir": str(state_dir), "instance": "bench"},
                        redis={"url": redis_url, "key_prefix": prefix}, http={"token_secret": "b" * 32})
    redis = gateway_redis(redis_url, settings.redis)  # the client Gateway.start makes
    roster = Roster((Team("billing", "Billing"),),
                    tuple(Agent(agent_id(n), f"agent {n}", agent_id(n), "billing", ("tr", "en"), {"billing": 7})
                          for n in range(n_agents)))
    queues = QueueConfig({"billing": QueuePolicy("billing", ("billing",), team="billing", wrapup_seconds=WRAPUP)},
                         aging_seconds_per_point=30.0)
    connector = BenchConnector()
    acd = Acd(redis, roster, queues, connector=connector, key_prefix=prefix, instance="bench")
    desk = DeskService(redis, prefix)
    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: roster.by_endpoint(e).id
                          if roster.by_endpoint(e) else None, record_activity=_nothing, desk=desk)
    connector.calls = tracker
    await acd.start()
    for agent in roster.agents:
        await acd.login(agent.id, ready=True)

    url = settings.crm_url
    await asyncio.to_thread(upgrade_database, url)
    engine = sync_engine(url)
    services = web_services(settings, redis, acd, engine, desk=desk)
    accounts = AccountStore(engine, hasher=CHEAP_HASHER)
    cookies = {}
    for agent in roster.agents:
        account = await asyncio.to_thread(accounts.add, f"agent{agent.id}", "bench password 1", role="agent",
                                          agent_id=agent.id, display_name=agent.name, locale="tr")
        cookies[agent.id] = (await services.sessions.create(account)).id
    server = WebServer(create_app(services))
    port = await server.start(0, "127.0.0.1", backlog=1024)

    pauses: list[tuple[float, int]] = []  # the collector's pauses in the phase: (seconds, generation)
    gc_began = [0.0]

    def gc_timer(phase_name, info):
        if phase_name == "start":
            gc_began[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - gc_began[0], info["generation"]))

    gc.callbacks.append(gc_timer)
    view = caller()
    background: set[asyncio.Task] = set()
    unbooked = 0

    async def after_ringing(linkedid: str, endpoint: str, n: int) -> None:
        await asyncio.sleep(ANSWER_AFTER)
        await tracker.handle(to_call_event({"Event": "DialEnd", "Linkedid": linkedid, "Uniqueid": linkedid,
                                            "DestChannel": f"PJSIP/{endpoint}-{n:08x}", "DialStatus": "ANSWER",
                                            "Timestamp": f"{time.time():.6f}"}))
        await asyncio.sleep(talk)
        await tracker.handle(to_call_event({"Event": "Hangup", "Linkedid": linkedid, "Uniqueid": linkedid,
                                            "Channel": f"PJSIP/carrier-{n:08x}", "Cause": "16",
                                            "Timestamp": f"{time.time():.6f}"}))

    async def call(n: int):
        nonlocal unbooked
        linkedid = f"1700000000.{n}"
        call = tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{n:08x}",
                             raw_ani="05321234567", dnis="100", caller=view)
        call.ivr_path[:] = ["open_case_check", "open_case_menu", "main_menu", "billing_wait", "agent_billing"]
        call.ivr_inputs = {"open_case_menu": "2", "main_menu": "1"}
        tracker.queued(call, "billing")
        await acd.enqueue(linkedid, call.caller_channel, ROUTE)
        endpoint = connector.booked.pop(linkedid, None)
        if endpoint is None:  # no agent free: the caller gives up at once (not a pop to time)
            unbooked += 1
            await acd.caller_abandoned(linkedid)
            tracker.calls.pop(linkedid, None)
            return linkedid, time.monotonic()
        frame = {"Event": "DialBegin", "Linkedid": linkedid, "Uniqueid": linkedid,
                 "DestChannel": f"PJSIP/{endpoint}-{n:08x}", "DialString": endpoint,
                 "Timestamp": f"{time.time():.6f}"}
        t0 = time.monotonic()
        await tracker.handle(to_call_event(frame))
        task = asyncio.ensure_future(after_ringing(linkedid, endpoint, n))
        background.add(task)
        task.add_done_callback(background.discard)
        return linkedid, t0

    async def phase(count: int, rate: float, first: int):
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        pauses.clear()
        began = time.monotonic()  # the floor's replay of this phase's socket traffic counts from here
        started = await paced(count, rate, call, first)
        while background:  # every call over, so the CPU time is whole calls'
            await asyncio.sleep(0.1)
        await asyncio.sleep(WRAPUP + 1.5)  # the last wrap-ups end (the ACD's tick)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)

        return {"started": started, "unbooked": unbooked, "gc": sorted(pauses), "began": began}

    freeze_startup_heap()  # as `ctigw run` does once the gateway has started
    try:
        await serve_commands(conn, {"port": port, "cookies": cookies}, phase)
    finally:
        await server.stop()
        engine.dispose()
        await acd.stop()
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()
        shutil.rmtree(state_dir, ignore_errors=True)
