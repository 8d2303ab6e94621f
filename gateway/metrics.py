"""The gateway's Prometheus metrics: one registry per gateway, its instruments, and what is
read at scrape time.

Two kinds of figures:
- Counted here as things happen on this instance: the wait of each answered call, each CRM
  caller lookup, each routing decision, each FastAGI session. The components do not import
  this module: the gateway hands them `acd_event`, `lookup_done` and `agi_session_ended`
  (see gateway/app.py), and they call back with what they already know.
- Read when Prometheus scrapes: calls waiting and the longest wait per queue and agents by
  state come from the ACD's Redis (so every instance sharing it reports the same numbers,
  and nothing is updated on each change); AMI connected, FastAGI sessions in flight and the
  CRM spool come from this process's own objects.

    metrics = GatewayMetrics(acd, ami=ami, agi=agi, activities=activities)
    body = await metrics.exposition()     # the text format, for GET /metrics

Each gateway has its own CollectorRegistry (not prometheus_client's global one), so several
gateways in one process (the tests) never collide.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.acd.events import CALL_STATE, Event
from gateway.acd.model import CallState
from gateway.acd.reasons import RULES
from gateway.acd.states import AgentState

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Enqueue to answer: the service-level thresholds people set (10, 20, 30 s...) are bucket edges.
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
# A lookup gives up after [crm] lookup_timeout (1 s by default): finer below it.
LOOKUP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LOOKUP_RESULTS = ("found", "not_found", "failed")
AGI_END_REASONS = ("completed", "hangup", "timeout", "error", "cancelled")
SPOOL_STATES = ("pending", "dead")


# -- the ACD's state, read from Redis at scrape time ----------------------------------------

@dataclass(frozen=True)
class AcdPicture:
    """Calls waiting and the longest wait per configured queue, and agents per state."""

    waiting: dict[str, int]
    longest_wait: dict[str, float]
    agents: dict[str, int] = field(default_factory=dict)


async def read_acd_picture(acd, now: float | None = None) -> AcdPicture:
    """The picture as the ACD's Redis has it now (a few pipelined reads, whatever the size)."""
    store = acd.store
    now = acd.clock() if now is None else now
    queues = acd.queues.names()
    pipe = store.redis.pipeline(transaction=False)
    for queue in queues:
        pipe.zrange(store.keys.queue(queue), 0, -1)
    members = {q: [_text(m) for m in found] for q, found in zip(queues, await pipe.execute())}
    # Only each waiting call's enqueued_at: its JSON alone, not a whole QueuedCall per call.
    pipe = store.redis.pipeline(transaction=False)
    waiting = [m for ids in members.values() for m in ids]
    for call_id in waiting:
        pipe.hget(store.keys.call(call_id), "data")
    entered = {call_id: json.loads(data)["enqueued_at"]
               for call_id, data in zip(waiting, await pipe.execute()) if data is not None}
    longest = {q: max((now - entered[m] for m in ids if m in entered), default=0.0) for q, ids in members.items()}
    agent_ids = {a.id for a in acd.roster.agents} | await store.known_agent_ids()
    agents = {s.value: 0 for s in AgentState}
    for status in await store.load_agents(sorted(agent_ids)):
        agents[status.state.value] += 1
    return AcdPicture(waiting={q: len(ids) for q, ids in members.items()},
                      longest_wait={q: max(0.0, w) for q, w in longest.items()}, agents=agents)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class AcdStateCollector(Collector):
    """The ACD's state for one scrape; `picture` None: Redis could not be read in time."""

    def __init__(self, picture: AcdPicture | None):
        self.picture = picture

    def collect(self):
        up = GaugeMetricFamily("ctigw_acd_state_up",
                               "1 if this scrape read the ACD's state from Redis, 0 if it could not (then the "
                               "queue and agent gauges are missing from it)")
        up.add_metric([], 0 if self.picture is None else 1)
        yield up
        if self.picture is None:
            return
        waiting = GaugeMetricFamily("ctigw_queue_calls_waiting", "Calls waiting in each queue (all instances)",
                                    labels=["queue"])
        longest = GaugeMetricFamily("ctigw_queue_longest_wait_seconds",
                                    "How long the longest-waiting call of each queue has waited since it first "
                                    "entered a queue (0: none waits)", labels=["queue"])
        for queue, count in sorted(self.picture.waiting.items()):
            waiting.add_metric([queue], count)
            longest.add_metric([queue], round(self.picture.longest_wait.get(queue, 0.0), 3))
        agents = GaugeMetricFamily("ctigw_agents", "Agents in each ACD state (all instances)", labels=["state"])
        for state, count in sorted(self.picture.agents.items()):
            agents.add_metric([state], count)
        yield from (waiting, longest, agents)


# -- this process's components, read at scrape time ----------------------------------------

class ComponentsCollector(Collector):
    """AMI connected, FastAGI sessions in flight and the CRM spool, from the live objects (any
    of them None: its metric is left out)."""

    def __init__(self, ami=None, agi=None, activities=None):
        self.ami = ami  # gateway.ami.client.AmiClient: .connected
        self.agi = agi  # gateway.agi.server.FastAgiServer: .active_sessions
        self.activities = activities  # gateway.crm.activities.ActivityLog: spooled_count(), dead_count()

    def collect(self):
        if self.ami is not None:
            ami = GaugeMetricFamily("ctigw_ami_connected", "1 while logged in to Asterisk's AMI, else 0")
            ami.add_metric([], 1 if self.ami.connected else 0)
            yield ami
        if self.agi is not None:
            agi = GaugeMetricFamily("ctigw_fastagi_sessions_in_flight",
                                    "FastAGI connections admitted and not yet over")
            agi.add_metric([], self.agi.active_sessions)
            yield agi
        if self.activities is not None:
            spool = GaugeMetricFamily("ctigw_crm_spool_activities",
                                      "CRM activity writes kept in the local spool: pending (waiting for the "
                                      "database) and dead (refused by it, kept for inspection)", labels=["state"])
            spool.add_metric(["pending"], self.activities.spooled_count())
            spool.add_metric(["dead"], self.activities.dead_count())
            yield spool


class _Scrape:
    """A registry plus collectors for this one scrape, as generate_latest wants (collect())."""

    def __init__(self, *collectors: Iterable):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


# -- the gateway's metrics ------------------------------------------------------------------

class GatewayMetrics:
    def __init__(self, acd, *, ami=None, agi=None, activities=None, instance: str | None = None,
                 read_timeout: float = 2.0, clock: Callable[[], float] | None = None):
        self.acd = acd
        self.instance = instance if instance is not None else acd.instance
        self.read_timeout = read_timeout  # a Redis that hangs must not hang the scrape
        self.clock = clock or acd.clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.call_wait = Histogram(
            "ctigw_call_wait_seconds", "From entering the first queue to an agent answering, for the calls this "
            "instance saw answered (a transferred call's second answer is not counted)",
            ["queue"], buckets=WAIT_BUCKETS, registry=self.registry)
        self.lookup = Histogram(
            "ctigw_crm_lookup_seconds", "CRM caller lookups by number (ANI) on this instance: how long each took, "
            "by result (found, not_found, failed: CRM down, timed out or an error)",
            ["result"], buckets=LOOKUP_BUCKETS, registry=self.registry)
        self.decisions = Counter(
            "ctigw_routing_decisions", "Calls this instance booked for an agent, by queue and by the rule that chose "
            "the agent (gateway/acd/reasons.py)", ["queue", "rule"], registry=self.registry)
        self.agi_sessions = Counter(
            "ctigw_fastagi_sessions", "FastAGI sessions handled to the end, by how they ended", ["reason"],
            registry=self.registry)
        self.registry.register(ComponentsCollector(ami, agi, activities))
        # Every known label value from the start: a rate() over a series that appears late misses its first step.
        for result in LOOKUP_RESULTS:
            self.lookup.labels(result)
        for reason in AGI_END_REASONS:
            self.agi_sessions.labels(reason)
        for queue in acd.queues.names():
            self.call_wait.labels(queue)
            for rule in RULES:
                self.decisions.labels(queue, rule)

    # -- what the components report (plain callbacks: they never see prometheus_client) ----
    def acd_event(self, event: Event) -> None:
        """An event on the ACD's channel (Acd.on_event). Counted by the instance that made the
        change, so that summing over instances counts each once."""
        if event.type != CALL_STATE or event.instance != self.instance:
            return
        call = event.call
        if call.state is CallState.RESERVED and call.match is not None:
            self.decisions.labels(call.queue, call.match.rule).inc()
        elif call.state is CallState.CONNECTED and call.transferred_from is None:
            self.call_wait.labels(call.queue).observe(max(0.0, self.clock() - call.enqueued_at))

    def lookup_done(self, seconds: float, result: str) -> None:
        """A CRM lookup by number took `seconds` (CrmStore.on_lookup)."""
        self.lookup.labels(result).observe(max(0.0, seconds))

    def agi_session_ended(self, session, reason: str) -> None:
        """FastAgiServer's on_session_end hook."""
        self.agi_sessions.labels(reason).inc()

    # -- the scrape -------------------------------------------------------------------------
    async def exposition(self) -> bytes:
        """Every metric in Prometheus' text format, the ACD's state read from Redis now."""
        started = time.monotonic()
        try:
            picture = await asyncio.wait_for(read_acd_picture(self.acd, self.clock()), self.read_timeout)
        except Exception as exc:  # TimeoutError, Redis down: the scrape still answers, saying so
            log.warning("metrics: the ACD's state could not be read from Redis (%s: %s)", type(exc).__name__, exc)
            picture = None
        body = self.render(picture)
        log.debug("metrics scrape in %.3f s", time.monotonic() - started)
        return body

    def render(self, picture: AcdPicture | None) -> bytes:
        """Every metric in the text format, with `picture` as the ACD's state (None: unread)."""
        return generate_latest(_Scrape(self.registry, AcdStateCollector(picture)))
