"""Issue 13 (operations endpoints) end to end through the real Asterisk: a pjsua2 caller goes
through the IVR and the billing queue to a pjsua2 agent who answers, and the gateway's own
/metrics (read with prometheus_client's parser, as Prometheus would) counts it: the FastAGI
session in flight and then ended, the CRM lookup, the routing decision, the wait, AMI up;
/readyz is ready with every check named."""
from __future__ import annotations

import httpx

from desk_browser import web_on  # noqa: F401
from gateway_harness import at_node, crm_db, ended_call, gateway, prompts, wait_for  # noqa: F401
from scraping import parse
from test_screen_pop_calls import CAGRI


async def scrape(http):
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    return parse(r.text)


async def test_metrics_count_a_real_call_through_ivr_queue_and_agent(web_on, gateway, phones):
    gw = gateway
    phone = await phones.register_agent("1001", answer_after=1.0)
    await gw.acd.login("1001")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.api.port}", timeout=30) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"ami", "redis", "crm", "fastagi"}
        before = await scrape(http)
        assert before.value("ctigw_ami_connected") == 1
        assert before.value("ctigw_fastagi_sessions_in_flight") == 0
        assert before.value("ctigw_agents", state="available") == 1

        call = await phones.call("100", caller_id=CAGRI)
        await at_node(gw, CAGRI, "open_case_menu")
        during = await scrape(http)  # the caller is in the IVR: its FastAGI session is open
        assert during.value("ctigw_fastagi_sessions_in_flight") == 1
        assert during.value("ctigw_crm_lookup_seconds_count", result="found") == 1  # Çağrı is a customer
        await call.send_digits("2")
        await at_node(gw, CAGRI, "main_menu")
        await call.send_digits("1")  # billing

        await phone.wait_answered(30)

        async def answered_in_metrics():
            seen = await scrape(http)
            return seen if seen.value("ctigw_call_wait_seconds_count", queue="billing") == 1 else None

        seen = await wait_for(answered_in_metrics, 30, "the answered call's wait in /metrics")
        assert seen.value("ctigw_fastagi_sessions_in_flight") == 0
        ended = {dict(k)["reason"]: v for k, v in seen.series("ctigw_fastagi_sessions_total").items() if v}
        # One session: it ends as completed, or as a hangup when the ACD's Redirect to the agent
        # (which ends the AGI) overtakes the IVR's last SET VARIABLE.
        assert sum(ended.values()) == 1 and set(ended) <= {"completed", "hangup"}, ended
        assert seen.value("ctigw_crm_lookup_seconds_count", result="found") == 1
        decided = {dict(k)["rule"]: v for k, v in seen.series("ctigw_routing_decisions_total").items()
                   if dict(k)["queue"] == "billing" and v}
        assert sum(decided.values()) == 1, decided
        assert seen.value("ctigw_call_wait_seconds_sum", queue="billing") > 0
        assert seen.value("ctigw_agents", state="on_call") == 1
        assert seen.value("ctigw_queue_calls_waiting", queue="billing") == 0
        assert seen.value("ctigw_ami_connected") == 1

        await call.hangup()
        await ended_call(gw, CAGRI)
