"""/metrics, /healthz and /readyz on the real web application (uvicorn on loopback) over a real
ACD on a real Redis: who may read the metrics, the ACD's figures read from Redis as they are,
and the CRM readiness check on a real SQLite CRM and spool."""
from __future__ import annotations

import httpx
import pytest

from gateway.acd.model import CustomerFacts
from gateway.agi.access import AllowList
from gateway.crm.activities import ActivityLog
from gateway.crm.store import CrmStore
from gateway.health import Readiness, gateway_checks
from gateway.metrics import GatewayMetrics
from gateway.routing import RouteRequest
from scraping import parse

TOKEN = "scrape-" + "t" * 24


async def get(web, path, **headers):
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:
        return await client.get(path, headers=headers)


async def test_this_host_reads_the_metrics_by_default_and_others_are_refused(start, acd):
    web = await start(metrics=GatewayMetrics(acd))
    r = await get(web, "/metrics")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert parse(r.text).value("ctigw_acd_state_up") == 1

    elsewhere = await start(metrics=GatewayMetrics(acd), metrics_hosts=AllowList(["10.0.0.0/8"]))
    r = await get(elsewhere, "/metrics")
    assert (r.status_code, r.json()) == (403, {"error": "metrics are not served to this address "
                                                        "([http] metrics_allowed_hosts)"})


async def test_with_a_metrics_token_the_token_decides_whatever_the_address(start, acd):
    web = await start(metrics=GatewayMetrics(acd), metrics_token=TOKEN, metrics_hosts=AllowList(["10.0.0.0/8"]))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = await get(web, "/metrics", **headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), headers
    r = await get(web, "/metrics", Authorization=f"Bearer {TOKEN}")
    assert r.status_code == 200 and "ctigw_crm_lookup_seconds" in parse(r.text).families


async def test_without_metrics_or_checks_in_the_process_the_answer_is_503_and_healthz_is_200(web):
    assert (await get(web, "/metrics")).status_code == 503
    assert (await get(web, "/readyz")).status_code == 503
    r = await get(web, "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "alive"})


async def test_queue_depth_and_agents_by_state_are_what_redis_holds_now(start, acd):
    web = await start(metrics=GatewayMetrics(acd))
    before = parse((await get(web, "/metrics")).text)
    assert before.value("ctigw_agents", state="available") == 0
    assert before.value("ctigw_queue_calls_waiting", queue="sales") == 0

    await acd.login("1001", ready=False)
    assert parse((await get(web, "/metrics")).text).value("ctigw_agents", state="not_ready") == 1
    await acd.ready("1001")
    await acd.enqueue("op-call-1", "PJSIP/op-1", RouteRequest("sales", language="de"), CustomerFacts())
    seen = parse((await get(web, "/metrics")).text)
    assert seen.value("ctigw_agents", state="available") == 1
    assert seen.value("ctigw_agents", state="not_ready") == 0
    assert seen.value("ctigw_agents", state="logged_out") == before.value("ctigw_agents", state="logged_out") - 1
    assert seen.value("ctigw_queue_calls_waiting", queue="sales") == 1
    assert seen.value("ctigw_queue_longest_wait_seconds", queue="sales") >= 0

    await acd.caller_abandoned("op-call-1")
    assert parse((await get(web, "/metrics")).text).value("ctigw_queue_calls_waiting", queue="sales") == 0


@pytest.fixture
async def unreachable_crm(tmp_path):
    crm = await CrmStore.open(f"sqlite:///{tmp_path / 'no-such-folder' / 'crm.sqlite3'}")
    activities = ActivityLog(crm, tmp_path / "spool.sqlite3")
    yield crm, activities
    await activities.close()
    await crm.close()


async def test_with_the_crm_down_the_gateway_is_ready_while_its_spool_takes_the_activities(
        unreachable_crm, redis_client):
    from gateway.agi.server import FastAgiServer
    from gateway.ami.client import AmiClient

    crm, activities = unreachable_crm
    checks = gateway_checks(redis=redis_client, ami=AmiClient("127.0.0.1", 1, "u", "s"), agi=FastAgiServer({}),
                            crm=crm, activities=activities)
    report = await Readiness(checks).run()
    assert report.checks["crm"].to_dict() == {"ok": True, "detail": "database unreachable; activities are spooled"}
    assert report.checks["redis"].ok
    assert set(report.failed) == {"ami", "fastagi"}  # not started in this test

    await activities.close()  # the spool cannot take writes either
    report = await Readiness(checks).run()
    assert report.checks["crm"].to_dict() == {"ok": False,
                                              "detail": "database and activity spool unavailable (RuntimeError)"}
