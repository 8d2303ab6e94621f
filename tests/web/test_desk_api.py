"""The agent desk's JSON routes (/desk/api) over real HTTP, against the real app on the real ACD
(Redis), call tracker and SQLite CRM: what an agent does from their desk, that they act only on
themselves and their own calls, that other roles and forged requests are refused, that hostile
input is refused or kept as text, and that every change leaves an audit row."""
import sqlite3

import pytest

from desk_web_fixtures import EN_BILLING
from gateway.acd.states import AgentState

API = "/desk/api"


def audit_rows(desk_web, prefix="desk."):
    return [(e.actor, e.action, e.target, e.outcome) for e in desk_web.audit if e.action.startswith(prefix)]


def crm_rows(desk_web, sql, *params):
    path = desk_web.crm_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


async def test_the_agent_sees_their_state_and_reasons_in_their_language_and_changes_their_own_state(desk_web):
    async with desk_web.client("ayse") as ayse, desk_web.client("emily") as emily:
        me = (await ayse.get(f"{API}/me")).json()
        assert (me["agent_id"], me["locale"], me["status"]["state"]) == ("1001", "tr", "logged_out")
        assert {"code": "lunch", "label": "Yemek", "tr": "Yemek", "en": "Lunch"} in me["not_ready_reasons"]
        assert [r["label"] for r in (await emily.get(f"{API}/me")).json()["not_ready_reasons"]][:2] == \
            ["Break", "Lunch"]

        r = await ayse.post(f"{API}/state", json={"state": "ready"})
        assert (r.status_code, r.json()["state"]) == (200, "available")
        r = await ayse.post(f"{API}/state", json={"state": "not_ready", "reason": "lunch"})
        assert (r.status_code, r.json()["state"], r.json()["reason"]) == (200, "not_ready", "lunch")
        r = await ayse.post(f"{API}/state", json={"state": "not_ready", "reason": "RONA"})
        assert r.status_code == 400 and r.json()["error"].startswith('"reason": one of break, lunch')
        r = await ayse.post(f"{API}/state", json={"state": "not_ready"})
        assert r.status_code == 400 and '"reason"' in r.json()["error"]
        r = await ayse.post(f"{API}/state", json={"state": "asleep"})
        assert r.status_code == 400 and '"state"' in r.json()["error"]
        r = await ayse.post(f"{API}/state", json={"state": "logout"})
        assert (r.status_code, r.json()["state"]) == (200, "logged_out")
        # Logged out, "not ready" logs in not ready with that reason.
        r = await ayse.post(f"{API}/state", json={"state": "not_ready", "reason": "meeting"})
        assert (r.json()["state"], r.json()["reason"]) == ("not_ready", "meeting")
    assert (await desk_web.acd.get_agent_state("1003")).state is AgentState.LOGGED_OUT  # Emily untouched
    assert audit_rows(desk_web) == [
        ("ayse", "desk.state.ready", "1001", "ok"),
        ("ayse", "desk.state.not_ready:lunch", "1001", "ok"),
        ("ayse", "desk.state", "1001", "refused: reason"),
        ("ayse", "desk.state", "1001", "refused: reason"),
        ("ayse", "desk.state.logout", "1001", "ok"),
        ("ayse", "desk.state.not_ready:meeting", "1001", "ok"),
    ]


async def test_without_a_session_or_its_csrf_token_nothing_changes(desk_web):
    async with desk_web.client() as stranger:
        assert (await stranger.get(f"{API}/me")).status_code == 401
        r = await stranger.post(f"{API}/state", json={"state": "ready"})
        assert (r.status_code, r.json()) == (401, {"error": "sign in first"})
    async with desk_web.client("ayse") as ayse:
        token = ayse.headers.pop("X-CSRF-Token")
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": token[:-1]}):
            r = await ayse.post(f"{API}/state", json={"state": "ready"}, headers=headers)
            assert (r.status_code, r.json()) == (403, {"error": "missing or wrong CSRF token"})
            r = await ayse.post(f"{API}/customers", json={"name": "Sahte Müşteri"}, headers=headers)
            assert r.status_code == 403
        r = await ayse.post(f"{API}/state", json={"state": "ready"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200
    assert crm_rows(desk_web, "SELECT count(*) FROM customers WHERE name = ?", "Sahte Müşteri") == [(0,)]


async def test_supervisors_and_admins_are_refused_the_agents_routes(desk_web):
    await desk_web.acd.login("1001")
    call = await desk_web.connected_call("1001", "L-sup")
    for username in ("selin", "root"):
        async with desk_web.client(username) as other:
            assert (await other.get(f"{API}/me")).status_code == 403
            for path, body in ((f"{API}/state", {"state": "logout"}), (f"{API}/dial", {"number": "05321234567"}),
                               (f"{API}/calls/L-sup/transfer", {"queue": "support", "note": ""}),
                               (f"{API}/calls/L-sup/wrapup", {"disposition": "resolved"}),
                               (f"{API}/customers", {"name": "Yeni Müşteri"})):
                r = await other.post(path, json=body)
                assert (r.status_code, r.json()) == (403, {"error": "not allowed for your role"}), path
    async with desk_web.client("selin") as selin, desk_web.client("root") as root:
        assert (await selin.get(f"{API}/customers", params={"q": "Öztürk"})).status_code == 200  # may read the CRM
        assert (await root.get(f"{API}/customers", params={"q": "Öztürk"})).status_code == 403
    status = await desk_web.acd.get_agent_state("1001")
    assert (status.state, status.call_id) == (AgentState.ON_CALL, call.linkedid)
    assert desk_web.asterisk.actions == []
    denied = audit_rows(desk_web)
    assert len(denied) == 10 and {(a, o) for _, a, _, o in denied} == {("desk.refused", "denied: role")}


async def test_search_is_turkish_aware_and_the_customer_view_pages_the_history(desk_web):
    async with desk_web.client("ayse") as ayse:
        for typed in ("ÇAĞRI", "cagri ozturk", "ÖZT", "0532 123 45 67", "+90 532 123 4567", "12345678"):
            r = await ayse.get(f"{API}/customers", params={"q": typed})
            assert r.status_code == 200, typed
            assert r.json()["hits"][0]["name"] == "Çağrı Öztürk", typed
        r = await ayse.get(f"{API}/customers", params={"q": "0532 123 45 67"})
        assert (r.json()["hits"][0]["matched_by"], r.json()["hits"][0]["phones"]) == ("phone", ["+905321234567"])
        for typed, field in (("", "q"), ("x" * 201, "q"), ("a", None)):
            r = await ayse.get(f"{API}/customers", params={"q": typed})
            assert r.status_code == 400, typed
            assert (f'"query.{field}"' in r.json()["error"]) if field else "letters" in r.json()["error"]

        view = (await ayse.get(f"{API}/customers/1", params={"limit": 2})).json()
        assert (view["name"], view["tier"], view["phones"][0]["e164"]) == ("Çağrı Öztürk", "gold", "+905321234567")
        assert any(c["subject"] == "Fatura itirazı" and c["status"] == "open" for c in view["cases"])
        first = view["activities"]
        assert len(first["items"]) == 2 and first["next_before"] == first["items"][-1]["id"]
        second = (await ayse.get(f"{API}/customers/1",
                                 params={"limit": 2, "before": first["next_before"]})).json()["activities"]
        assert second["items"] and not {a["id"] for a in second["items"]} & {a["id"] for a in first["items"]}
        assert second["items"][0]["occurred_at"] <= first["items"][-1]["occurred_at"]
        r = await ayse.get(f"{API}/customers/999999")
        assert (r.status_code, r.json()) == (404, {"error": "no customer 999999"})
        for bad in ("0", "-1", "abc", str(2**64)):
            assert (await ayse.get(f"{API}/customers/{bad}")).status_code == 400, bad


async def test_an_unknown_caller_becomes_a_customer_and_a_number_is_linked_only_once(desk_web):
    async with desk_web.client("ayse") as ayse:
        r = await ayse.post(f"{API}/customers", json={"name": "Ayşe Işık", "language": "tr", "number": "0555 111 22 99"})
        assert r.status_code == 201
        new_id = r.json()["customer_id"]
        hits = (await ayse.get(f"{API}/customers", params={"q": "ISIK"})).json()["hits"]
        assert [(h["id"], h["phones"]) for h in hits] == [(new_id, ["+905551112299"])]

        r = await ayse.post(f"{API}/customers/{new_id}/numbers", json={"number": "+90 555 111 22 98"})
        assert (r.status_code, r.json()) == (200, {"customer_id": new_id, "e164": "+905551112298"})
        r = await ayse.post(f"{API}/customers/1/numbers", json={"number": "05551112298"})
        assert (r.status_code, r.json()) == (409, {"error": f"+905551112298 already belongs to customer {new_id}"})
        r = await ayse.post(f"{API}/customers/{new_id}/numbers", json={"number": "not a number"})
        assert (r.status_code, r.json()) == (400, {"error": "not a phone number"})
        r = await ayse.post(f"{API}/customers", json={"name": "Başka", "language": "turkish"})
        assert r.status_code == 400 and '"language"' in r.json()["error"]
        # Someone else's call cannot be attached to a customer.
        await desk_web.acd.login("1003")
        await desk_web.finished_call("1003", "L-emily", route=EN_BILLING)
        r = await ayse.post(f"{API}/customers/{new_id}/numbers", json={"number": "05551112297", "linkedid": "L-emily"})
        assert (r.status_code, r.json()) == (403, {"error": "this call is not yours"})
    assert crm_rows(desk_web, "SELECT customer_id FROM phone_numbers WHERE e164 = ?", "+905551112297") == []
    assert audit_rows(desk_web) == [
        ("ayse", "desk.customer.create", "0555 111 22 99", "ok"),
        ("ayse", "desk.customer.link-number", f"customer {new_id}", "ok"),
        ("ayse", "desk.customer.link-number", "customer 1", f"refused: +905551112298 already belongs to customer {new_id}"),
        ("ayse", "desk.customer.link-number", f"customer {new_id}", "refused: not a phone number"),
        ("ayse", "desk.customer.link-number", f"customer {new_id}", "refused: this call is not yours"),
    ]


async def test_click_to_dial_rings_the_agents_phone_and_books_them(desk_web):
    async with desk_web.client("ayse") as ayse:
        r = await ayse.post(f"{API}/dial", json={"number": "0532 123 45 67"})
        assert (r.status_code, r.json()["error"]) == (409, "agent 1001 is logged out; log in first") or \
            r.status_code == 409
        await ayse.post(f"{API}/state", json={"state": "ready"})
        r = await ayse.post(f"{API}/dial", json={"number": "05321234567;Dial(PJSIP/1002)"})
        assert r.status_code == 400 and r.json()["error"].startswith('"number": ')
        r = await ayse.post(f"{API}/dial", json={"number": "0532 123 45 67"})
        assert r.status_code == 200
        linkedid = r.json()["linkedid"]
        assert r.json()["number"] == "+905321234567"
        assert desk_web.asterisk.actions == [("originate", "1001", "+905321234567", linkedid)]
        status = (await ayse.get(f"{API}/me")).json()["status"]
        assert (status["state"], status["call_id"]) == ("on_call", linkedid)
        r = await ayse.post(f"{API}/dial", json={"number": "05321234568"})
        assert r.status_code == 409
    outcomes = [(a, o.split(":")[0]) for _, a, _, o in audit_rows(desk_web, "desk.dial")]
    assert outcomes == [("desk.dial", "refused"), ("desk.dial", "refused"), ("desk.dial", "ok"),
                        ("desk.dial", "refused")]


async def test_only_the_agent_on_the_call_transfers_it(desk_web):
    await desk_web.acd.login("1001")
    await desk_web.acd.login("1003")
    call = await desk_web.connected_call("1001", "L7")
    async with desk_web.client("emily") as emily, desk_web.client("ayse") as ayse:
        r = await emily.post(f"{API}/calls/L7/transfer", json={"queue": "support", "note": "benim değil"})
        assert (r.status_code, r.json()) == (403, {"error": "only the agent talking to the caller may transfer the call"})
        for body in ({"note": "x"}, {"queue": "support", "agent": "1003", "note": ""},
                     {"queue": "support", "note": "a\x1b[2Jb"}, {"queue": "support", "note": "x" * 1001},
                     {"queue": "support", "note": "", "extra": 1}):
            r = await ayse.post(f"{API}/calls/L7/transfer", json=body)
            assert r.status_code == 400, body
        r = await ayse.post(f"{API}/calls/L7/transfer", json={"queue": "no-such-queue", "note": ""})
        assert (r.status_code, r.json()) == (409, {"error": "there is no queue 'no-such-queue'"})
        assert desk_web.asterisk.actions == []
        note = "<b>fatura</b> '); DROP TABLE activities; --"
        r = await ayse.post(f"{API}/calls/L7/transfer", json={"queue": "support", "note": note})
        assert (r.status_code, r.json()) == (200, {"linkedid": "L7", "queue": "support", "agent": None})
    assert desk_web.asterisk.actions == [("hold", call.caller_channel)]
    assert call.transfers and call.transfers[-1]["note"] == note
    assert (await desk_web.acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    assert [(who, o.split(":")[0]) for who, _, _, o in audit_rows(desk_web, "desk.transfer")] == \
        [("emily", "refused"), ("ayse", "refused"), ("ayse", "ok")]


async def test_the_wrapup_of_ones_own_call_is_saved_into_its_activity(desk_web):
    await desk_web.acd.login("1001")
    linkedid = await desk_web.finished_call("1001", "1764000000.7")
    async with desk_web.client("emily") as emily, desk_web.client("ayse") as ayse:
        r = await emily.get(f"{API}/calls/{linkedid}/wrapup")
        assert (r.status_code, r.json()) == (403, {"error": "this call is not yours to wrap up"})
        r = await emily.post(f"{API}/calls/{linkedid}/wrapup", json={"disposition": "resolved"})
        assert r.status_code == 403

        form = (await ayse.get(f"{API}/calls/{linkedid}/wrapup")).json()
        assert (form["queue"], form["mode"], form["customer_id"]) == ("billing", "optional", 1)
        assert {"code": "resolved", "label": "Çözüldü"} in form["dispositions"]
        dispute = next(c for c in form["open_cases"] if c["subject"] == "Fatura itirazı")

        r = await ayse.post(f"{API}/calls/{linkedid}/wrapup", json={"disposition": "made_up"})
        assert (r.status_code, r.json()) == (400, {"error": "not a disposition of queue billing"})
        r = await ayse.post(f"{API}/calls/{linkedid}/wrapup",
                            json={"disposition": "resolved", "open_case": {"subject": "x"},
                                  "update_case": {"case_id": dispute["id"]}})
        assert r.status_code == 400
        notes = "<img src=x onerror=alert(1)>\nİade yapıldı; '); DELETE FROM activities; --"
        r = await ayse.post(f"{API}/calls/{linkedid}/wrapup",
                            json={"disposition": "resolved", "notes": notes,
                                  "update_case": {"case_id": dispute["id"], "status": "resolved"}})
        assert r.status_code == 200, r.text
        saved = r.json()
        assert (saved["disposition"], saved["spooled"], saved["case"]["status"], saved["agent_state"]) == \
            ("resolved", False, "resolved", "available")
    assert crm_rows(desk_web, "SELECT agent_id, disposition, notes, case_id FROM activities WHERE linkedid = ?",
                    linkedid) == [("1001", "resolved", notes, dispute["id"])]
    assert [(who, o.split(":")[0]) for who, _, _, o in audit_rows(desk_web, "desk.wrapup")] == \
        [("emily", "refused"), ("ayse", "refused"), ("ayse", "ok")]


async def test_the_wrapup_opens_a_new_case_for_the_caller(desk_web):
    await desk_web.acd.login("1001")
    linkedid = await desk_web.finished_call("1001", "1764000000.8")
    async with desk_web.client("ayse") as ayse:
        r = await ayse.post(f"{API}/calls/{linkedid}/wrapup",
                            json={"disposition": "follow_up", "open_case": {"subject": "", "priority": "high"}})
        assert r.status_code == 400 and '"open_case.subject"' in r.json()["error"]
        subject = "Modem arızası <b>acil</b>"
        r = await ayse.post(f"{API}/calls/{linkedid}/wrapup",
                            json={"disposition": "follow_up", "open_case": {"subject": subject, "priority": "high"}})
        assert r.status_code == 200, r.text
        case = r.json()["case"]
        assert (case["subject"], case["status"], case["priority"], case["owner"]) == (subject, "open", "high", "1001")
    assert crm_rows(desk_web, "SELECT disposition, case_id FROM activities WHERE linkedid = ?", linkedid) == \
        [("follow_up", case["id"])]
    assert crm_rows(desk_web, "SELECT subject, priority FROM cases WHERE id = ?", case["id"]) == [(subject, "high")]


async def test_a_mandatory_wrapup_is_not_skipped_by_going_not_ready_or_ready(desk_web):
    from gateway.routing import RouteRequest

    acd = desk_web.acd
    await acd.login("1001")
    await acd.enqueue("L-m", "PJSIP/in-m", RouteRequest("complaints", ("billing",), "tr"))
    await acd.agent_answered("1001", "L-m")
    await acd.call_ended("L-m")
    if not acd.after_call_work("complaints").mandatory:
        pytest.skip("the demo complaints queue no longer has mandatory wrap-up")
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    async with desk_web.client("ayse") as ayse:
        for body in ({"state": "ready"}, {"state": "not_ready", "reason": "break"}, {"state": "logout"}):
            r = await ayse.post(f"{API}/state", json=body)
            assert r.status_code == 409, body
        assert (await ayse.get(f"{API}/me")).json()["status"]["state"] == "wrap_up"


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "Robert'); DROP TABLE customers;--",
                                  "Ayşe \u202eİŞIK"])
async def test_hostile_names_are_stored_as_text(desk_web, name):
    async with desk_web.client("ayse") as ayse:
        r = await ayse.post(f"{API}/customers", json={"name": name, "language": "tr"})
        if r.status_code == 400:  # refused, with the field named
            assert '"name"' in r.json()["error"] or "name" in r.json()["error"]
            return
        assert r.status_code == 201
        view = (await ayse.get(f"{API}/customers/{r.json()['customer_id']}")).json()
        assert view["name"] == name
        assert r.headers["content-type"] == "application/json"


async def test_hostile_input_gets_a_4xx(desk_web):
    async with desk_web.client("ayse") as ayse:
        big = "x" * 10_240
        for method, path, kwargs in (
                ("post", f"{API}/customers", {"json": {"name": big}}),
                ("post", f"{API}/customers", {"json": {"name": "a\x00b"}}),
                ("post", f"{API}/customers", {"json": {"name": "a\x1bb"}}),
                ("post", f"{API}/customers", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
                ("post", f"{API}/customers", {"json": ["a list"]}),
                ("post", f"{API}/customers", {"json": {"name": 5}}),
                ("post", f"{API}/state", {"json": {"state": "ready", "reason": "x" * 5000}}),
                ("get", f"{API}/customers", {"params": {"q": "a\x00b"}}),
                ("get", f"{API}/calls/{'x' * 65}/wrapup", {}),
                ("post", f"{API}/calls/%00/wrapup", {"json": {"disposition": "resolved"}}),
                ("post", f"{API}/dial", {"json": {"number": "\u0661\u0662\u0663" * 30}}),
        ):
            r = await getattr(ayse, method)(path, **kwargs)
            assert 400 <= r.status_code < 500, (path, kwargs, r.status_code, r.text)
            assert "error" in r.json()
        r = await ayse.get(f"{API}/customers", params={"q": "' OR 1=1 --"})
        assert r.status_code in (200, 400) and r.json().get("hits", []) == []
    assert crm_rows(desk_web, "SELECT count(*) FROM customers WHERE length(name) > 200") == [(0,)]
