"""The running gateway: wires the protocol layers to the business code on one loop.

Start order matters: the stores first (a call must find them), then the ACD, then AMI (its
resync needs the tracker), and FastAGI last, so Asterisk's first call finds everything ready.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable
from datetime import datetime, timezone
from pathlib import Path

from gateway.acd.service import Acd
from gateway.agi.server import FastAgiServer
from gateway.ami.client import AmiClient
from gateway.calls import ami_bridge
from gateway.calls.adoption import CallAdopter, CallCards
from gateway.calls.agent_actions import AgentCallActions
from gateway.calls.hold import HoldLiveness
from gateway.calls.inbound import InboundCallHandler
from gateway.calls.services import IvrServices
from gateway.calls.tracker import CallTracker
from gateway.config import ConfigError, Settings
from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.backend import CrmUnavailable
from gateway.crm.directory import CustomerDirectory
from gateway.crm.state_history import AgentStateHistory
from gateway.crm.store import CrmStore
from gateway.desk.service import DeskService
from gateway.desk.wrapup import WrapupService
from gateway.health import Readiness, gateway_checks
from gateway.ivr.registry import FlowRegistry
from gateway.metrics import GatewayMetrics
from gateway.redis_client import gateway_redis
from gateway.redis_local import LocalRedis
from gateway.web.server import start_gateway_web

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: Settings
    flow_by_dnis: dict[str, str] = field(default_factory=dict)  # dialled number -> flow name
    ivr_clock: Callable[[], datetime] | None = None  # business hours' clock (tests); None: real time
    # An empty [redis] url starts a private redis-server: only the trial asks for that. Several
    # gateways each with their own private Redis would silently split one ACD in pieces.
    private_redis: bool = False

    async def start(self) -> None:
        s = self.settings
        started = time.monotonic()
        if not s.redis.url and not self.private_redis:
            raise ConfigError("[redis] url is empty: set it (or CTIGW_REDIS_URL) to the Redis that every gateway "
                              "of this contact centre shares, e.g. redis://127.0.0.1:6379/0; only `ctigw try` "
                              "starts a private Redis")
        Path(s.state_dir).mkdir(parents=True, exist_ok=True)
        self._local_redis = None
        redis_url = s.redis.url
        if not redis_url:
            self._local_redis = LocalRedis(s.state_dir)
            redis_url = self._local_redis.start()
        self.redis = gateway_redis(redis_url, s.redis)
        await self.redis.ping()

        self.crm = await CrmStore.open(s.crm_url, region=s.gateway.default_region,
                                       create_leads=s.crm.create_leads, migrate=True)
        self.activities = ActivityLog(self.crm, s.spool_path)
        self.activities.start()  # replay what an earlier run spooled while the CRM was down
        self.desk = DeskService(self.redis, s.redis.key_prefix)

        self.ami = AmiClient(s.ami.host, s.ami.port, s.ami.username, s.ami.secret, auth=s.ami.auth,
                             keepalive_interval=s.ami.keepalive_interval, action_timeout=s.ami.action_timeout,
                             reconnect_max=s.ami.reconnect_max)
        self.connector = ami_bridge.AmiConnector(self.ami, s.acd.ring_timeout, voicemail_dir=s.acd.voicemail_dir)
        self.acd = Acd.from_settings(s, self.redis, connector=self.connector)
        self.directory = await CustomerDirectory.open(s.crm_url, region=s.gateway.default_region)
        self.wrapups = WrapupService(self.acd, self.activities, self.directory)
        self.wrapups.attach()  # a mandatory wrap-up that runs out records its timeout disposition
        await self.acd.start()
        # Every agent state change, from the ACD's stream into the CRM (state_log.py); a
        # blocking read shorter than the Redis socket timeout, which would cut it off.
        self.state_history = AgentStateHistory.open(s.crm_url)
        self.state_recorder = self.acd.state_recorder(self.state_history, unavailable=(CrmUnavailable,),
                                                      block=min(1.0, s.redis.socket_timeout / 2))
        self.state_recorder.start()
        self.tracker = CallTracker(
            acd=self.acd,
            agent_for_endpoint=self._agent_for_endpoint,
            record_activity=self._record_activity,
            desk=self.desk,
        )
        self.connector.calls = self.tracker  # callers leaving the queue show in their activity
        self.cards = CallCards(self.redis, s.redis.key_prefix, s.gateway.instance)
        adopter = CallAdopter(cards=self.cards, tracker=self.tracker, acd=self.acd, lookup=self.crm.lookup,
                              ami=self.ami, clock=time.time)
        ami_bridge.attach(self.ami, self.tracker, adopter)
        dialler = ami_bridge.AmiDialler(self.ami, ring_timeout=s.acd.ring_timeout)
        dialler.attach(self.tracker)
        # What the agent desk does with calls (click-to-dial, blind transfers): the web layer calls it.
        self.agent_calls = AgentCallActions(acd=self.acd, tracker=self.tracker, asterisk=self.connector,
                                            dialler=dialler, lookup=self.crm.lookup, instance=s.gateway.instance,
                                            default_region=s.gateway.default_region, cards=self.cards)
        self.ami.start()
        self.hold_liveness = HoldLiveness(self.ami, s.gateway.instance, grace=s.acd.hold_grace,
                                          slice_seconds=s.acd.hold_slice)
        self.hold_liveness.start()

        self.flows = FlowRegistry(s.ivr.flows_dir)
        self.flows.get(s.ivr.main_flow)  # a broken main flow stops the start, not the first call
        handler = InboundCallHandler(tracker=self.tracker, crm=self.crm, flows=self.flows,
                                     services=IvrServices(self.crm, self.acd), acd=self.acd,
                                     flow_for_dnis=self._flow_for_dnis, instance=s.gateway.instance,
                                     cards=self.cards, clock=self._ivr_now)
        self.agi = FastAgiServer({"inbound": handler}, allowed_hosts=s.agi.allowed_hosts,
                                 max_sessions=s.agi.max_sessions, env_timeout=s.agi.env_timeout,
                                 command_timeout=s.agi.command_timeout)
        self._watch()  # before FastAGI listens: the first call is counted
        self.agi.listen(s.agi.port, s.agi.bind, backlog=s.agi.backlog)
        self.api = None
        if s.http.token_secret:  # the web: sign-in pages, the desk and the REST API
            self.api = await start_gateway_web(s, self.redis, self.acd, desk=self.desk, wrapups=self.wrapups,
                                               directory=self.directory, agent_calls=self.agent_calls,
                                               metrics=self.metrics, readiness=self.readiness)
            log.info("web on http://%s:%d/login, API /api/v1 (tokens: ctigw api-token)", s.http.bind, self.api.port)
        else:
            log.info("HTTP off: set [http] token_secret (CTIGW_HTTP_TOKEN_SECRET) to turn the web and its API on")
        log.info("gateway %s ready in %.1f s: FastAGI %s:%d, AMI %s:%d, CRM %s, %d agents",
                 s.gateway.instance, time.monotonic() - started, s.agi.bind, self.agi.port, s.ami.host,
                 s.ami.port, self.crm.engine, len(self.acd.roster.agents))

    async def stop(self) -> None:
        for step in (self._stop_api, self.agi.stop, self.hold_liveness.stop, self.ami.stop, self.acd.stop,
                     self.state_recorder.stop, self.state_history.close, self.activities.close,
                     self.directory.close, self.crm.close, self.redis.aclose):
            try:
                await step()
            except Exception:
                log.exception("while stopping")
        if self._local_redis is not None:
            self._local_redis.stop()

    def _watch(self) -> None:
        """The operations' view (GET /metrics, /readyz): the components report to the metrics
        through plain callbacks, and know nothing of Prometheus."""
        s = self.settings
        self.metrics = GatewayMetrics(self.acd, ami=self.ami, agi=self.agi, activities=self.activities)
        self.acd.on_event(self.metrics.acd_event)
        self.crm.on_lookup(self.metrics.lookup_done)
        self.agi.on_session_end = self.metrics.agi_session_ended
        self.readiness = Readiness(gateway_checks(redis=self.redis, ami=self.ami, agi=self.agi, crm=self.crm,
                                                  activities=self.activities,
                                                  crm_timeout=s.http.readiness_timeout / 2),
                                   timeout=s.http.readiness_timeout)

    async def _stop_api(self):
        if self.api is not None:
            await self.api.stop()

    def _ivr_now(self) -> datetime:
        return self.ivr_clock() if self.ivr_clock else datetime.now(timezone.utc)

    def _flow_for_dnis(self, dnis: str) -> str:
        return self.flow_by_dnis.get(dnis, self.settings.ivr.main_flow)

    def _agent_for_endpoint(self, endpoint: str) -> str | None:
        agent = self.acd.roster.by_endpoint(endpoint)
        return agent.id if agent else None

    async def _record_activity(self, call) -> None:
        try:
            await self._write_activity(call)
        finally:
            await self.cards.drop(call.linkedid)  # the call is over: nothing left to adopt

    async def _write_activity(self, call) -> None:
        caller = call.caller
        await self.activities.record_call(CallActivity(
            linkedid=call.linkedid,
            raw_ani=call.raw_ani,
            customer_id=caller.customer_id if caller is not None else None,
            dnis=call.dnis or None,
            direction=call.direction,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            outcome=call.outcome(),
            queue=call.queue,
            agent_id=call.agent_id,
            wait_seconds=call.wait_seconds,
            talk_seconds=call.talk_seconds,
            hold_seconds=call.hold_seconds,
            ivr_path=call.ivr_path,
            ivr_inputs=call.ivr_inputs,
            route=call.route,
            transfers=call.transfers,
        ))
