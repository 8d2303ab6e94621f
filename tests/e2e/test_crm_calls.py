"""Issue #3 end to end: ANI lookup and one CRM activity per call, through the real Asterisk."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from gateway_harness import activities, at_node, crm_db, ended_call, gateway, prompts, wait_for  # noqa: F401


async def test_known_customer_in_national_format_is_identified_and_logged_once(gateway, crm_db, phones):
    # Çağrı Öztürk's number, as a domestic carrier presents it: national format.
    dialled = time.time()
    call = await phones.call("100", caller_id="05321234567")
    # A repeat caller with an open case is asked "1 agent about the case, 2 main menu": 2.
    await at_node(gateway, "05321234567", "open_case_menu")
    await call.send_digits("2")
    await at_node(gateway, "05321234567", "main_menu")
    await call.hangup()
    hung_up = time.time()
    ended = await ended_call(gateway, "05321234567")
    assert ended.caller.known
    assert ended.caller.name == "Çağrı Öztürk"
    assert ended.caller.ani.e164 == "+905321234567"
    rows = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "the activity row")
    assert len(rows) == 1
    row = rows[0]
    assert row["customer_id"] == ended.caller.customer_id
    assert row["outcome"] == "abandoned_ivr"
    assert row["e164"] == "+905321234567"
    assert row["ivr_path"] == ended.ivr_path
    assert row["ivr_path"][-2:] == ["open_case_menu", "main_menu"]
    assert "language" not in row["ivr_path"][1:]  # a known customer is not asked their language
    started, finished = (datetime.fromisoformat(row[k]).replace(tzinfo=timezone.utc).timestamp()
                         for k in ("started_at", "ended_at"))
    assert dialled - 1 < started < finished < hung_up + 2  # the call's real span, in UTC
    assert row["wait_seconds"] in (None, 0) and row["talk_seconds"] in (None, 0)  # never queued


async def test_unknown_number_gets_the_unknown_caller_view(gateway, crm_db, phones):
    call = await phones.call("100", caller_id="+905559876543")
    await at_node(gateway, "+905559876543", "language")
    await call.hangup()
    ended = await ended_call(gateway, "+905559876543")
    assert not ended.caller.known
    assert ended.caller.customer_id is None
    rows = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "the activity row")
    assert len(rows) == 1 and rows[0]["customer_id"] is None and rows[0]["outcome"] == "abandoned_ivr"
