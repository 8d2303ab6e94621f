"""The operations' pure parts: readiness checks bounded by their timeout, the metrics counted
from the ACD's events, and a scrape that still answers when Redis cannot be read. No service:
the Redis client here points at a port nobody listens on."""
from __future__ import annotations

import asyncio
import socket

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.acd import events
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.reasons import FIRST_FREE_AGENT, LONGEST_IDLE, RULES, MatchReason
from gateway.acd.service import Acd
from gateway.agi.server import FastAgiServer
from gateway.ami.client import AmiClient
from gateway.config import ConfigError, Settings, describe, load_settings
from gateway.health import NotReady, Readiness
from gateway.metrics import AcdPicture, GatewayMetrics
from scraping import parse

NOW = 10_000.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def acd():
    client = aioredis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1,
                            retry=Retry(NoBackoff(), 0))  # refused at once, not retried
    acd = Acd.from_settings(Settings(), client, instance="gw1", clock=lambda: NOW)
    yield acd
    await client.aclose()


def call(state: CallState, *, queue="billing", enqueued_at=NOW - 12.0, rule=FIRST_FREE_AGENT, transferred_from=None):
    match = MatchReason(rule=rule, candidates=1, stage=0, min_proficiency=1, team=None, skills=("billing",),
                        language="tr", proficiency=(("billing", 5),), idle_seconds=3.0)
    return QueuedCall(call_id="c1", channel="PJSIP/x-1", queue=queue, skills=("billing",), language="tr",
                      priority=0.0, enqueued_at=enqueued_at, queue_entered_at=enqueued_at, rank_key=enqueued_at,
                      owner="gw1", state=state, agent_id="1001" if state is not CallState.WAITING else None,
                      match=match if state is not CallState.WAITING else None, transferred_from=transferred_from)


def event(queued: QueuedCall, instance: str = "gw1") -> events.Event:
    return events.parse_event(events.call_state_message(queued, instance))


def scrape(metrics: GatewayMetrics, picture: AcdPicture | None = None):
    return parse(metrics.render(picture).decode())


# -- readiness --------------------------------------------------------------------------------

async def test_a_check_that_hangs_fails_by_its_timeout_and_the_others_are_still_reported():
    async def fine():
        return "answered"

    async def hangs():
        await asyncio.Event().wait()

    report = await Readiness({"redis": hangs, "ami": fine}, timeout=0.2).run()
    assert not report.ready and report.failed == ["redis"]
    assert report.to_dict()["checks"] == {"redis": {"ok": False, "detail": "no answer within 0.2 s"},
                                          "ami": {"ok": True, "detail": "answered"}}


async def test_a_failure_says_what_kind_but_not_the_error_text_which_goes_to_the_log(caplog):
    async def refused():
        raise ConnectionError("Error 111 connecting to 10.9.8.7:6379")

    async def says_why():
        raise NotReady("not logged in to AMI")

    report = await Readiness({"redis": refused, "ami": says_why}).run()
    assert report.to_dict() == {"ready": False, "failed": ["redis", "ami"], "checks": {
        "redis": {"ok": False, "detail": "failed (ConnectionError)"},
        "ami": {"ok": False, "detail": "not logged in to AMI"}}}
    assert "10.9.8.7" in caplog.text


async def test_all_checks_passing_is_ready():
    async def ok():
        return None

    report = await Readiness({"a": ok, "b": ok}).run()
    assert report.ready and report.failed == [] and report.checks["a"].detail == "ok"


def test_a_readiness_timeout_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Readiness({}, timeout=0)


# -- counted from the ACD's events ----------------------------------------------------------------

async def test_a_booking_made_here_counts_one_routing_decision_by_queue_and_rule(acd):
    metrics = GatewayMetrics(acd)
    metrics.acd_event(event(call(CallState.RESERVED, rule=LONGEST_IDLE)))
    metrics.acd_event(event(call(CallState.RESERVED, queue="sales"), instance="gw2"))  # gw2 counts its own
    metrics.acd_event(event(call(CallState.RINGING)))  # the same decision, later
    seen = scrape(metrics)
    decided = {dict(labels)["rule"]: v for labels, v in seen.series("ctigw_routing_decisions_total").items()
               if dict(labels)["queue"] == "billing"}
    assert decided == {**{rule: 0.0 for rule in RULES}, LONGEST_IDLE: 1.0}
    assert seen.value("ctigw_routing_decisions_total", queue="sales", rule=FIRST_FREE_AGENT) == 0.0


async def test_an_answer_observes_the_wait_since_the_call_first_queued_once(acd):
    metrics = GatewayMetrics(acd)
    metrics.acd_event(event(call(CallState.CONNECTED, enqueued_at=NOW - 12.0)))
    metrics.acd_event(event(call(CallState.CONNECTED, enqueued_at=NOW - 300.0, transferred_from="1002")))
    metrics.acd_event(event(call(CallState.CONNECTED, enqueued_at=NOW - 50.0), instance="gw2"))
    seen = scrape(metrics)
    assert seen.value("ctigw_call_wait_seconds_count", queue="billing") == 1
    assert seen.value("ctigw_call_wait_seconds_sum", queue="billing") == 12.0
    assert seen.value("ctigw_call_wait_seconds_bucket", queue="billing", le="10.0") == 0
    assert seen.value("ctigw_call_wait_seconds_bucket", queue="billing", le="15.0") == 1


async def test_lookups_and_fastagi_sessions_are_counted_by_result(acd):
    metrics = GatewayMetrics(acd)
    metrics.lookup_done(0.004, "found")
    metrics.lookup_done(1.0, "failed")
    metrics.agi_session_ended(None, "hangup")
    seen = scrape(metrics)
    assert seen.value("ctigw_crm_lookup_seconds_count", result="found") == 1
    assert seen.value("ctigw_crm_lookup_seconds_bucket", result="found", le="0.005") == 1
    assert seen.value("ctigw_crm_lookup_seconds_count", result="failed") == 1
    assert seen.value("ctigw_crm_lookup_seconds_count", result="not_found") == 0
    assert seen.value("ctigw_fastagi_sessions_total", reason="hangup") == 1
    assert seen.value("ctigw_fastagi_sessions_total", reason="completed") == 0


async def test_two_gateways_in_one_process_keep_their_own_figures(acd):
    first, second = GatewayMetrics(acd), GatewayMetrics(acd)
    first.lookup_done(0.01, "found")
    assert scrape(first).value("ctigw_crm_lookup_seconds_count", result="found") == 1
    assert scrape(second).value("ctigw_crm_lookup_seconds_count", result="found") == 0


# -- read at scrape time ------------------------------------------------------------------------

async def test_the_components_are_read_as_they_are_now(acd):
    ami = AmiClient("127.0.0.1", closed_port(), "ctigw", "secret")
    metrics = GatewayMetrics(acd, ami=ami, agi=FastAgiServer({}))
    seen = scrape(metrics)
    assert seen.value("ctigw_ami_connected") == 0
    assert seen.value("ctigw_fastagi_sessions_in_flight") == 0
    assert "ctigw_crm_spool_activities" not in seen.families  # no activity log given


async def test_the_acd_picture_becomes_gauges_per_queue_and_per_state(acd):
    picture = AcdPicture(waiting={"billing": 2, "sales": 0}, longest_wait={"billing": 42.5, "sales": 0.0},
                         agents={"available": 3, "on_call": 1})
    seen = scrape(GatewayMetrics(acd), picture)
    assert seen.value("ctigw_acd_state_up") == 1
    assert seen.value("ctigw_queue_calls_waiting", queue="billing") == 2
    assert seen.value("ctigw_queue_longest_wait_seconds", queue="billing") == 42.5
    assert seen.value("ctigw_queue_calls_waiting", queue="sales") == 0
    assert seen.value("ctigw_agents", state="available") == 3


async def test_when_redis_cannot_be_read_the_scrape_still_answers_and_says_so(acd):
    metrics = GatewayMetrics(acd, read_timeout=5)
    seen = parse((await metrics.exposition()).decode())
    assert seen.value("ctigw_acd_state_up") == 0
    assert "ctigw_queue_calls_waiting" not in seen.families and "ctigw_agents" not in seen.families
    assert seen.value("ctigw_crm_lookup_seconds_count", result="found") == 0  # the rest is there


# -- configuration ------------------------------------------------------------------------------

def test_who_may_read_metrics_is_configured_by_address_or_token():
    default = Settings().http
    assert (default.metrics_token, default.metrics_allowed_hosts) == ("", ["127.0.0.1", "::1"])
    settings = load_settings(None, environ={"CTIGW_HTTP_METRICS_ALLOWED_HOSTS": "10.0.0.0/8, ::1",
                                            "CTIGW_HTTP_METRICS_TOKEN": "scrape-" + "x" * 20})
    assert settings.http.metrics_allowed_hosts == ["10.0.0.0/8", "::1"]
    assert describe(settings)["http"]["metrics_token"] == "********"
    with pytest.raises(ConfigError, match=r"\[http\] metrics_allowed_hosts: .*'prometheus.local'"):
        load_settings(None, environ={"CTIGW_HTTP_METRICS_ALLOWED_HOSTS": "prometheus.local"})
