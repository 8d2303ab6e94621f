"""The agent's desk page and its live socket on the real application (uvicorn, real Redis, the
real ACD): each agent's socket carries their own desk and state and nothing of anyone else's; a
reconnecting page gets the current state at once; forged, expired and signed-out sessions are
refused; the desk's POSTs need the CSRF token, the agent role and are audited."""
import asyncio
import contextlib
import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.desk import resources
from gateway.desk.pop import CallerCard, CaseCard, Routing, ScreenPop, WithdrawReason
from gateway.desk.service import DeskService
from gateway.web.accounts import Account
from web_testing import add_accounts, form_token, sign_in


def a_pop(call_id: str, name: str = "Çağrı Öztürk", **caller) -> ScreenPop:
    card = CallerCard(known=True, name=name, number="+90 532 123 45 67", number_e164="+905321234567",
                      number_kind="number", customer_id=2, tier="gold", lifetime_value="12500.50", language="tr",
                      open_cases=[CaseCard(id=7, subject="Fatura itirazı", status="open", priority="high")],
                      **caller)
    return ScreenPop(call_id=call_id, caller=card, language="tr", ivr_path=["language", "main_menu"],
                     ivr_inputs={"language": "1", "main_menu": "1"}, queue="billing", waited_seconds=4.2,
                     routing=Routing(rule="longest_idle", candidates=2, skills=["billing"]))


class FakeClock:  # only the sessions' clock: idle expiry without waiting half an hour
    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        return time.time() + self.offset


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def desk_web(start, redis_client, key_prefix, clock):
    web = await start(idle=600, clock=clock)
    web.services.desk = DeskService(redis_client, key_prefix)
    add_accounts(web)
    return web


async def signed_in(web, username):
    client = httpx.AsyncClient(base_url=web.url, follow_redirects=False)
    response = await sign_in(client, username)
    assert response.status_code == 303
    return client


def socket_to(web, cookie: str | None, origin: str | None = "same"):
    headers = {"Cookie": f"ctigw_session={cookie}"} if cookie else {}
    return connect(f"ws://127.0.0.1:{web.port}/desk/ws", additional_headers=headers,
                   origin=web.url if origin == "same" else origin, open_timeout=5)


async def next_message(socket, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def nothing_within(socket, seconds: float) -> None:
    with pytest.raises(asyncio.TimeoutError):
        message = await asyncio.wait_for(socket.recv(), seconds)
        pytest.fail(f"unexpected message: {message}")


async def test_each_agents_socket_carries_their_own_desk_and_state_and_nothing_of_anyone_elses(desk_web):
    web, desk, acd = desk_web, desk_web.services.desk, desk_web.services.acd
    ayse, emily = await signed_in(web, "ayse"), await signed_in(web, "emily")
    async with socket_to(web, ayse.cookies["ctigw_session"]) as ayse_socket, \
            socket_to(web, emily.cookies["ctigw_session"]) as emily_socket:
        hello = await next_message(ayse_socket)
        assert (hello["type"], hello["agent"]["agent_id"], hello["agent"]["state"], hello["desk"]) == \
            ("hello", "1001", "logged_out", None)
        assert (await next_message(emily_socket))["agent"]["agent_id"] == "1003"

        await acd.login("1001")
        state = await next_message(ayse_socket)
        assert (state["type"], state["agent"]["state"]) == ("agent", "available")
        offer = await desk.offer("1001", a_pop("call-of-ayse"))
        message = await next_message(ayse_socket)
        assert (message["type"], message["desk"]["kind"], message["desk"]["version"]) == \
            ("desk", "offer", offer.version)
        assert message["desk"]["pop"]["caller"]["name"] == "Çağrı Öztürk"
        await nothing_within(emily_socket, 1.0)  # neither Ayşe's state nor her call

        await desk.offer("1003", a_pop("call-of-emily", name="Ahmet Kaya"))
        mine = await next_message(emily_socket)
        assert (mine["desk"]["agent_id"], mine["desk"]["pop"]["caller"]["name"]) == ("1003", "Ahmet Kaya")
        await nothing_within(ayse_socket, 0.5)

    # A reload (a new socket) gets the call in progress at once.
    await desk.answered("1001", a_pop("call-of-ayse"))
    async with socket_to(web, ayse.cookies["ctigw_session"]) as again:
        hello = await next_message(again)
        assert (hello["agent"]["state"], hello["desk"]["kind"], hello["desk"]["call_id"]) == \
            ("available", "answered", "call-of-ayse")
    await ayse.aclose()
    await emily.aclose()


async def test_more_open_desks_than_the_redis_pool_has_connections_each_get_their_own_news(desk_web):
    """The desks of a process share one Redis connection: a contact centre's worth of open desks
    neither runs the Redis pool dry (the ACD and the calls need it too) nor mixes their news."""
    web, desk, acd = desk_web, desk_web.services.desk, desk_web.services.acd
    agents = ["1001"] + [f"{5000 + n}" for n in range(desk.redis.connection_pool.max_connections + 20)]
    cookies = {a: (await web.services.sessions.create(Account(f"agent{a}", f"Agent {a}", "agent", a, (), "en",
                                                              False))).id for a in agents}
    async with contextlib.AsyncExitStack() as stack:
        sockets = {}
        for agent in agents:
            sockets[agent] = await stack.enter_async_context(socket_to(web, cookies[agent]))
            assert (await next_message(sockets[agent]))["agent"]["agent_id"] == agent
        await acd.login("1001")  # the pool still serves the ACD
        state = await next_message(sockets["1001"])
        assert (state["type"], state["agent"]["agent_id"], state["agent"]["state"]) == ("agent", "1001", "available")
        for agent in agents:
            await desk.offer(agent, a_pop(f"call-of-{agent}"))
        for agent in agents:
            message = await next_message(sockets[agent])
            assert (message["type"], message["desk"]["agent_id"], message["desk"]["call_id"]) == \
                ("desk", agent, f"call-of-{agent}")
        await nothing_within(sockets["1001"], 0.5)


async def test_forged_expired_and_signed_out_sessions_and_other_sites_are_refused(desk_web, clock, monkeypatch):
    web = desk_web
    ayse = await signed_in(web, "ayse")
    cookie = ayse.cookies["ctigw_session"]
    for who, origin in ((None, "same"), ("forged-" + cookie[7:], "same"), (cookie, "http://evil.example"),
                        (cookie, None)):
        with pytest.raises(InvalidStatus) as refused:
            async with socket_to(web, who, origin):
                pass
        assert refused.value.response.status_code == 403, (who, origin)
    selin = await signed_in(web, "selin")  # a supervisor has no agent desk socket
    with pytest.raises(InvalidStatus):
        async with socket_to(web, selin.cookies["ctigw_session"]):
            pass

    # An open socket closes soon after its session is signed out; a new one is refused.
    monkeypatch.setattr(resources, "SESSION_RECHECK", 0.2)
    async with socket_to(web, cookie) as socket:
        await next_message(socket)
        token = form_token((await ayse.get("/desk")).text)
        assert (await ayse.post("/logout", headers={"X-CSRF-Token": token})).status_code == 303
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
    with pytest.raises(InvalidStatus):
        async with socket_to(web, cookie):
            pass

    emily = await signed_in(web, "emily")
    clock.offset = 601  # idle longer than the session lives
    with pytest.raises(InvalidStatus):
        async with socket_to(web, emily.cookies["ctigw_session"]):
            pass
    for client in (ayse, selin, emily):
        await client.aclose()


async def test_the_desks_posts_need_the_csrf_token_and_the_agent_role_and_are_audited(desk_web):
    web, acd = desk_web, desk_web.services.acd
    ayse = await signed_in(web, "ayse")
    page = await ayse.get("/desk")
    assert page.status_code == 200 and 'id="caller-name"' in page.text and "Kısayol" not in page.text
    assert "Klavye kısayolları" in page.text and "Mola" in page.text  # Turkish account, Turkish page
    token = form_token(page.text)
    # The page's actions are the /desk/api routes; the old page-only duplicates are gone.
    for path, body in (("/desk/api/state", {"state": "ready"}),
                       ("/desk/api/calls/x/wrapup", {"disposition": "resolved"})):
        refused = await ayse.post(path, json=body)
        assert refused.status_code == 403, path
        refused = await ayse.post(path, json=body, headers={"X-CSRF-Token": "wrong" + token})
        assert refused.status_code == 403, path
    for path in ("/desk/state", "/desk/wrapup", "/desk/wrapup/done"):
        assert (await ayse.post(path, json={}, headers={"X-CSRF-Token": token})).status_code in (404, 405), path
    assert (await ayse.get("/desk/wrapup/x")).status_code == 404
    assert (await acd.get_agent_state("1001")).state.value == "logged_out"

    # From logged out straight to not ready with a reason (signed in to the queues, paused).
    paused = await ayse.post("/desk/api/state", json={"state": "not_ready", "reason": "training"},
                             headers={"X-CSRF-Token": token})
    assert (paused.json()["state"], paused.json()["reason"]) == ("not_ready", "training")
    ready = await ayse.post("/desk/api/state", json={"state": "ready"}, headers={"X-CSRF-Token": token})
    assert (ready.status_code, ready.json()["state"]) == (200, "available")
    assert ready.json()["version"] > paused.json()["version"]  # the page orders it against the socket's news
    paused = await ayse.post("/desk/api/state", json={"state": "not_ready", "reason": "lunch"},
                             headers={"X-CSRF-Token": token})
    assert (paused.json()["state"], paused.json()["reason"]) == ("not_ready", "lunch")
    made_up = await ayse.post("/desk/api/state", json={"state": "not_ready", "reason": "<b>nap</b>"},
                              headers={"X-CSRF-Token": token})
    assert made_up.status_code == 400
    # The agent acts only on themselves: an agent id in the body is not even accepted.
    other = await ayse.post("/desk/api/state", json={"state": "ready", "agent_id": "1003"},
                            headers={"X-CSRF-Token": token})
    assert other.status_code == 400
    assert (await acd.get_agent_state("1003")).state.value == "logged_out"
    out = await ayse.post("/desk/api/state", json={"state": "logout"}, headers={"X-CSRF-Token": token})
    assert out.json()["state"] == "logged_out"

    selin = await signed_in(web, "selin")
    selin_token = form_token((await selin.get("/desk")).text)
    assert (await selin.post("/desk/api/state", json={"state": "ready"},
                             headers={"X-CSRF-Token": selin_token})).status_code == 403
    actions = [(r.actor, r.action, r.target, r.outcome) for r in web.services.audit.recent(20)]
    assert ("ayse", "desk.state.ready", "1001", "ok") in actions
    assert ("ayse", "desk.state.not_ready:lunch", "1001", "ok") in actions
    assert ("selin", "desk.refused", "/desk/api/state", "denied: role") in actions
    await ayse.aclose()
    await selin.aclose()


async def test_an_agent_wraps_up_their_own_call_in_their_language_and_nobody_elses(desk_web, tmp_path):
    from datetime import datetime, timezone

    from gateway.acd.states import AgentState
    from gateway.crm.activities import ActivityLog, CallActivity
    from gateway.crm.directory import CustomerDirectory
    from gateway.crm.store import CrmStore
    from gateway.desk.wrapup import WrapupService
    from gateway.routing import RouteRequest

    web, acd = desk_web, desk_web.services.acd
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"  # the application's own CRM file
    store = await CrmStore.open(url, region="TR")
    log = ActivityLog(store, tmp_path / "spool.sqlite3")
    directory = await CustomerDirectory.open(url, region="TR")
    web.services.wrapups = WrapupService(acd, log, directory)
    try:
        linkedid = "1764000000.42"
        await acd.login("1001")
        await acd.enqueue(linkedid, "PJSIP/in-1", RouteRequest("billing", ("billing",), "tr", 2))
        await acd.agent_answered("1001", linkedid)
        await log.record_call(CallActivity(linkedid=linkedid, raw_ani="+905551112233", outcome="answered",
                                           agent_id="1001", queue="billing", started_at=datetime.now(timezone.utc)))
        await acd.call_ended(linkedid)
        assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP

        ayse, emily = await signed_in(web, "ayse"), await signed_in(web, "emily")
        emily_token = form_token((await emily.get("/desk")).text)
        assert (await emily.get(f"/desk/api/calls/{linkedid}/wrapup")).status_code == 403
        stolen = await emily.post(f"/desk/api/calls/{linkedid}/wrapup",
                                  json={"disposition": "resolved", "notes": "not mine"},
                                  headers={"X-CSRF-Token": emily_token})
        assert stolen.status_code == 403

        form = (await ayse.get(f"/desk/api/calls/{linkedid}/wrapup")).json()
        assert (form["queue"], form["dispositions"][0]) == ("billing", {"code": "resolved", "label": "Çözüldü"})
        token = form_token((await ayse.get("/desk")).text)
        notes = "<img src=x onerror=alert(1)> iade onaylandı"
        saved = await ayse.post(f"/desk/api/calls/{linkedid}/wrapup", json={"disposition": "resolved", "notes": notes},
                                headers={"X-CSRF-Token": token})
        assert (saved.status_code, saved.json()["disposition"], saved.json()["agent_state"]) == \
            (200, "resolved", "available")
        record = await directory.call_record(linkedid)
        assert (record.agent_id, record.disposition) == ("1001", "resolved")
        actions = [(r.actor, r.action, r.target, r.outcome.split(":")[0]) for r in web.services.audit.recent(20)]
        assert ("ayse", "desk.wrapup", f"call {linkedid}: resolved", "ok") in actions
        assert ("emily", "desk.wrapup", f"call {linkedid}: resolved", "refused") in actions
        await ayse.aclose()
        await emily.aclose()
    finally:
        await directory.close()
        await log.close()
        await store.close()


async def test_ready_ends_an_optional_after_call_work_early_and_is_audited(desk_web):
    """The page's "Finish after-call work" button: the state route's "ready" ends the wrap-up."""
    from gateway.acd.states import AgentState
    from gateway.routing import RouteRequest

    web, acd = desk_web, desk_web.services.acd
    await acd.login("1001")
    await acd.enqueue("L-acw", "PJSIP/in-acw", RouteRequest("billing", ("billing",), "tr", 2))
    await acd.agent_answered("1001", "L-acw")
    await acd.call_ended("L-acw")
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    ayse = await signed_in(web, "ayse")
    token = form_token((await ayse.get("/desk")).text)
    done = await ayse.post("/desk/api/state", json={"state": "ready"}, headers={"X-CSRF-Token": token})
    assert (done.status_code, done.json()["state"]) == (200, "available")
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    actions = [(r.actor, r.action, r.target, r.outcome) for r in web.services.audit.recent(5)]
    assert ("ayse", "desk.state.ready", "1001", "ok") in actions
    await ayse.aclose()


async def test_the_transfer_panel_offers_the_queues_in_the_agents_language_and_the_other_agents(desk_web):
    import re

    ayse, emily = await signed_in(desk_web, "ayse"), await signed_in(desk_web, "emily")
    turkish, english = (await ayse.get("/desk")).text, (await emily.get("/desk")).text
    assert '<option value="queue:support">Teknik destek</option>' in turkish
    assert '<option value="queue:support">Technical support</option>' in english
    assert '<option value="agent:1003">1003 · Rebecca Lawson</option>' in turkish
    assert 'value="agent:1001"' not in turkish and 'value="agent:1003"' not in english  # not oneself
    assert "<kbd>Alt</kbd>+<kbd>T</kbd></dt><dd>Aktar</dd>" in turkish
    strings = json.loads(re.search(r'<script type="application/json" id="desk-strings">(.*?)</script>',
                                   turkish, re.S).group(1))
    assert strings["queue"]["billing"] == "Fatura"  # the pop's queue, named as in the list
    assert strings["transfer"]["to_queue"] == "Çağrı kuyruğa aktarıldı: %(target)s."
    assert strings["transfer"]["refused"]["409"].startswith("Şu anda mümkün değil")
    await ayse.aclose()
    await emily.aclose()
