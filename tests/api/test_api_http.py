"""The agent-control API over real HTTP on loopback, with a real ACD on a real Redis."""
import json
import logging

from api_testing import SECRET, http, token

from gateway.routing import RouteRequest
from gateway.acd.states import AgentState

A1001 = token("agent", "1001")  # billing
BILLING_SUP = token("supervisor", "billing")
SUPPORT_SUP = token("supervisor", "support")
TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)
V1 = "/api/v1"


async def test_an_agent_logs_in_readies_not_readies_and_reads_their_state(api):
    r = await http(api.port, "POST", f"{V1}/agents/1001/login", bearer=A1001, body={"ready": False})
    assert (r.status, r.json()["state"], r.json()["reason"]) == (200, "not_ready", "login")
    assert r.headers["content-type"].startswith("application/json")
    r = await http(api.port, "POST", f"{V1}/agents/1001/ready", bearer=A1001)
    assert (r.status, r.json()["state"]) == (200, "available")
    r = await http(api.port, "POST", f"{V1}/agents/1001/not-ready", bearer=A1001, body={"reason": "lunch"})
    assert (r.status, r.json()["state"], r.json()["reason"]) == (200, "not_ready", "lunch")
    r = await http(api.port, "GET", f"{V1}/agents/1001", bearer=A1001)
    assert r.status == 200
    assert {k: r.json()[k] for k in ("agent_id", "state", "reason", "calls_handled")} == \
        {"agent_id": "1001", "state": "not_ready", "reason": "lunch", "calls_handled": 0}
    r = await http(api.port, "POST", f"{V1}/agents/1001/logout", bearer=A1001)
    assert (r.status, r.json()["state"]) == (200, "logged_out")


async def test_an_agent_ends_wrap_up_after_a_call(api, acd):
    r = await http(api.port, "POST", f"{V1}/agents/1001/login", bearer=A1001)  # ready by default
    assert r.json()["state"] == "available"
    await acd.enqueue("c1", "PJSIP/in-1", TR_BILLING)
    assert acd.connector.connects == [("c1", "1001")]
    await acd.agent_ringing("1001", "c1")
    await acd.agent_answered("1001", "c1")
    await acd.call_ended("c1")
    r = await http(api.port, "GET", f"{V1}/agents/1001", bearer=A1001)
    assert r.json()["state"] == "wrap_up" and r.json()["call_id"] == "c1"
    r = await http(api.port, "POST", f"{V1}/agents/1001/end-wrapup", bearer=A1001, raw_body=b"{}")
    assert (r.status, r.json()["state"], r.json()["calls_handled"]) == (200, "available", 1)


async def test_an_impossible_change_is_409_with_the_reason(api, acd):
    r = await http(api.port, "POST", f"{V1}/agents/1001/ready", bearer=A1001)
    assert r.status == 409 and "log in first" in r.json()["error"]
    assert (await acd.get_agent_state("1001")).state is AgentState.LOGGED_OUT


async def test_an_agent_cannot_read_or_control_another_agent(api, acd):
    await acd.login("1002")
    assert (await http(api.port, "GET", f"{V1}/agents/1002", bearer=A1001)).status == 403
    for action in ("login", "logout", "ready", "end-wrapup"):
        r = await http(api.port, "POST", f"{V1}/agents/1002/{action}", bearer=A1001)
        assert (r.status, r.json()) == (403, {"error": "not allowed for this agent"})
    r = await http(api.port, "POST", f"{V1}/agents/1002/not-ready", bearer=A1001, body={"reason": "break"})
    assert r.status == 403
    assert (await acd.get_agent_state("1002")).state is AgentState.AVAILABLE


async def test_a_supervisor_controls_their_team_only(api, acd):
    r = await http(api.port, "POST", f"{V1}/agents/1002/login", bearer=BILLING_SUP)
    assert (r.status, r.json()["state"]) == (200, "available")
    r = await http(api.port, "POST", f"{V1}/agents/1002/not-ready", bearer=BILLING_SUP, body={"reason": "coaching"})
    assert (r.status, r.json()["reason"]) == (200, "coaching")
    assert (await http(api.port, "GET", f"{V1}/agents/1002", bearer=BILLING_SUP)).json()["state"] == "not_ready"
    # 1004 is in support
    assert (await http(api.port, "POST", f"{V1}/agents/1004/login", bearer=BILLING_SUP)).status == 403
    assert (await http(api.port, "GET", f"{V1}/agents/1004", bearer=BILLING_SUP)).status == 403
    assert (await acd.get_agent_state("1004")).state is AgentState.LOGGED_OUT
    assert (await http(api.port, "POST", f"{V1}/agents/1004/login", bearer=SUPPORT_SUP)).status == 200


async def test_queue_snapshots_for_the_queue_teams_supervisor_only(api, acd):
    await acd.enqueue("c9", "PJSIP/in-9", TR_BILLING)  # nobody logged in: it waits
    r = await http(api.port, "GET", f"{V1}/queues/billing", bearer=BILLING_SUP)
    assert r.status == 200
    snapshot = r.json()
    assert snapshot["queue"] == "billing" and [w["call_id"] for w in snapshot["waiting"]] == ["c9"]
    assert (await http(api.port, "GET", f"{V1}/queues/billing", bearer=SUPPORT_SUP)).status == 403
    assert (await http(api.port, "GET", f"{V1}/queues/support", bearer=BILLING_SUP)).status == 403
    assert (await http(api.port, "GET", f"{V1}/queues/billing", bearer=A1001)).status == 403
    r = await http(api.port, "GET", f"{V1}/queues/nosuch", bearer=BILLING_SUP)
    assert r.status == 404 and "nosuch" in r.json()["error"]


async def test_missing_or_bad_tokens_are_401(api, acd):
    forged = token("agent", "1001").split(".")[0] + "." + token("agent", "1002").split(".")[1]
    from gateway.api.auth import issue_token
    other_secret = issue_token("a-different-secret-entirely", "agent", "1001")
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {A1001}"},
                    {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {other_secret}"},
                    {"Authorization": "Bearer garbage"}):
        for method, path in (("GET", f"{V1}/agents/1001"), ("POST", f"{V1}/agents/1001/login"),
                             ("GET", f"{V1}/queues/billing")):
            r = await http(api.port, method, path, headers=headers)
            assert r.status == 401, (headers, path, r)
            assert set(r.json()) == {"error"} and r.headers["www-authenticate"].startswith("Bearer")
    assert (await acd.get_agent_state("1001")).state is AgentState.LOGGED_OUT


async def test_malformed_and_oversized_bodies_are_400(api, acd):
    url = f"{V1}/agents/1001/login"
    for raw in (b"{not json", b"[1, 2]", b'"text"', b'{"ready": "yes"}', b'{"ready": true, "extra": 1}',
                b"\xff\xfe{}"):
        r = await http(api.port, "POST", url, bearer=A1001, raw_body=raw)
        assert r.status == 400 and set(r.json()) == {"error"}, (raw, r)
    big = json.dumps({"ready": True, "pad": "x" * 9000}).encode()
    r = await http(api.port, "POST", url, bearer=A1001, raw_body=big)
    assert r.status == 400 and "8192" in r.json()["error"]
    r = await http(api.port, "POST", url, bearer=A1001, raw_body=big, chunked=True)  # no Content-Length
    assert r.status == 400 and "8192" in r.json()["error"]
    assert (await acd.get_agent_state("1001")).state is AgentState.LOGGED_OUT


async def test_not_ready_needs_a_short_printable_reason(api, acd):
    await acd.login("1001")
    url = f"{V1}/agents/1001/not-ready"
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": "x" * 33},
                 {"reason": "bad\nreason"}, {"reason": "break", "until": 3}):
        r = await http(api.port, "POST", url, bearer=A1001, body=body)
        assert r.status == 400 and "error" in r.json(), (body, r)
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE


async def test_unknown_agents_routes_and_methods(api):
    ghost = token("agent", "9999")
    r = await http(api.port, "GET", f"{V1}/agents/9999", bearer=ghost)
    assert (r.status, r.json()) == (404, {"error": "unknown agent '9999'"})
    assert (await http(api.port, "POST", f"{V1}/agents/9999/login", bearer=ghost)).status == 404
    assert (await http(api.port, "GET", f"{V1}/agents/9999", bearer=BILLING_SUP)).status == 403
    for path in (f"{V1}/nothing", f"{V1}/agents/1001/dance", f"{V1}/agents/1001/", f"{V1}/agents",
                 "/api/v2/agents/1001", f"{V1}/agents/%ff"):
        r = await http(api.port, "GET", path, bearer=A1001)
        assert r.status == 404 and set(r.json()) == {"error"}, (path, r)
    # an escaped "/" stays in the id: agent "1001/login", who is not agent 1001
    assert (await http(api.port, "GET", f"{V1}/agents/1001%2Flogin", bearer=A1001)).status == 403
    r = await http(api.port, "POST", f"{V1}/agents/1001", bearer=A1001)
    assert (r.status, r.headers["allow"]) == (405, "GET")
    r = await http(api.port, "GET", f"{V1}/agents/1001/login", bearer=A1001)
    assert (r.status, r.headers["allow"]) == (405, "POST")
    assert (await http(api.port, "DELETE", f"{V1}/queues/billing", bearer=BILLING_SUP)).status == 405


async def test_openapi_document_names_every_path(api):
    r = await http(api.port, "GET", f"{V1}/openapi.json")
    assert r.status == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert {p for p in doc["paths"] if p.startswith(V1)} == {f"{V1}/agents/{{agent_id}}", f"{V1}/queues/{{queue}}",
                                 *(f"{V1}/agents/{{agent_id}}/{a}" for a in
                                   ("login", "logout", "ready", "not-ready", "end-wrapup"))}
    assert doc["paths"][f"{V1}/agents/{{agent_id}}/not-ready"]["post"]["requestBody"]["required"] is True
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_tokens_and_the_secret_are_never_logged(api, caplog):
    caplog.set_level(logging.DEBUG)
    await http(api.port, "POST", f"{V1}/agents/1001/login", bearer=A1001)
    await http(api.port, "GET", f"{V1}/agents/1002", bearer=A1001)
    await http(api.port, "GET", f"{V1}/agents/1001", bearer=A1001 + "x")
    assert caplog.records  # the access lines
    text = caplog.text + repr(api)
    assert A1001 not in text and SECRET not in text


async def test_stop_closes_the_port(web):
    port = web.port
    assert (await http(port, "GET", f"{V1}/openapi.json")).status == 200
    await web.server.stop()
    import asyncio
    try:
        await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        pass
    else:
        raise AssertionError("still listening")


async def test_a_client_that_goes_away_mid_request_harms_nothing(api, acd, caplog, monkeypatch):
    import asyncio
    real = acd.get_agent_state

    async def slow(agent_id):
        await asyncio.sleep(0.2)
        return await real(agent_id)

    monkeypatch.setattr(acd, "get_agent_state", slow)
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    writer.write(f"GET {V1}/agents/1001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {A1001}\r\n\r\n".encode())
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.4)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await http(api.port, "GET", f"{V1}/agents/1001", bearer=A1001)).status == 200


async def test_expired_and_revoked_tokens_are_401(api):
    expired = token("agent", "1001", ttl=60, now=1_000_000)
    r = await http(api.port, "GET", f"{V1}/agents/1001", bearer=expired)
    assert (r.status, r.json()) == (401, {"error": "token expired"})
    mine, spare = token("agent", "1001"), token("agent", "1001")
    assert (await http(api.port, "GET", f"{V1}/agents/1001", bearer=mine)).status == 200
    from gateway.api.auth import verify_token
    await api.services.revocations.revoke(verify_token(SECRET, mine).token_id)
    r = await http(api.port, "POST", f"{V1}/agents/1001/login", bearer=mine)
    assert (r.status, r.json()) == (401, {"error": "token revoked"})
    assert (await http(api.port, "GET", f"{V1}/agents/1001", bearer=spare)).status == 200  # one by one


async def test_every_change_by_token_is_audited(api, acd):
    await http(api.port, "POST", f"{V1}/agents/1001/ready", bearer=A1001)  # not logged in: 409
    await http(api.port, "POST", f"{V1}/agents/1001/login", bearer=A1001)
    await http(api.port, "POST", f"{V1}/agents/1002/ready", bearer=A1001)  # not hers: 403
    await http(api.port, "POST", f"{V1}/agents/1002/login", bearer=BILLING_SUP)
    await http(api.port, "GET", f"{V1}/agents/1001", bearer=A1001)  # a read: not audited
    from gateway.api.auth import verify_token
    a1001_id, sup_id = verify_token(SECRET, A1001).token_id, verify_token(SECRET, BILLING_SUP).token_id
    rows = [(e.actor, e.role, e.action, e.target, e.address, e.outcome.split(":")[0])
            for e in reversed(api.services.audit.recent())]
    assert rows == [
        (f"agent:1001 (token {a1001_id})", "agent", "agent.ready", "1001", "127.0.0.1", "refused"),
        (f"agent:1001 (token {a1001_id})", "agent", "agent.login", "1001", "127.0.0.1", "ok"),
        (f"agent:1001 (token {a1001_id})", "agent", "agent.ready", "1002", "127.0.0.1", "denied"),
        (f"supervisor:billing (token {sup_id})", "supervisor", "agent.login", "1002", "127.0.0.1", "ok"),
    ]
