"""Issue 12's end-to-end test through the real Asterisk, in chromium: an agent signs in to the
desk page and goes ready there; Çağrı Öztürk (a known customer with an open case) calls from
his number through the IVR; the page shows his name, the open case and his IVR choices while
the agent's pjsua2 phone is still ringing; the phone answers, the caller hangs up, and the agent
fills the wrap-up in the page (disposition, notes, case update): the call's one CRM activity
holds them. Run in Turkish and in English; screenshots of the pop and the wrap-up are kept in
the test's tmp dir."""
from __future__ import annotations

import asyncio

import pytest

from desk_browser import PASSWORD, Page, need_chromium, web_on  # noqa: F401
from gateway_harness import activities, crm_db, ended_call, gateway, prompts, wait_for  # noqa: F401
from test_screen_pop_calls import CAGRI, cagri_calls_billing

TEXTS = {
    "tr": {"ready": "Hazır", "offer": "Gelen çağrı", "answered": "Görüşme sürüyor", "ended": "Çağrı bitti",
           "saved": "Çağrı sonucu kaydedildi.", "resolved": "Çözüldü", "billing": "Fatura"},
    "en": {"ready": "Ready", "offer": "Incoming call", "answered": "Call in progress", "ended": "Call ended",
           "saved": "Wrap-up saved.", "resolved": "Resolved", "billing": "Billing"},
}


@pytest.mark.parametrize("locale", ["tr", "en"])
async def test_the_agent_sees_the_caller_while_the_phone_rings_and_wraps_up_in_the_page(
        web_on, gateway, crm_db, phones, tmp_path, locale):
    need_chromium()
    texts = TEXTS[locale]
    accounts = gateway.api.app.state.services.accounts
    await asyncio.to_thread(accounts.add, "deniz", PASSWORD, role="agent", agent_id="1001",
                            display_name="Deniz Aydın", locale=locale)
    phone = await phones.register_agent("1001", answer_after=3.5)  # the harness rings an agent for 6 s
    page = await asyncio.to_thread(Page, f"http://127.0.0.1:{gateway.api.port}")
    try:
        await asyncio.to_thread(page.sign_in, "deniz")
        assert await asyncio.to_thread(page.go_ready) == texts["ready"]
        assert (await gateway.acd.get_agent_state("1001")).state.value == "available"

        call = await cagri_calls_billing(gateway, phones)
        await asyncio.to_thread(page.pop_kind, "offer")
        # On the screen while the agent's phone is still ringing.
        assert phone.calls_answered == 0
        seen = {name: await asyncio.to_thread(page.text, name)
                for name in ("pop-kind", "caller-name", "caller-number", "open-cases", "ivr-path", "ivr-inputs",
                             "queue", "caller-value", "repeat", "routing-why", "caller-tier")}
        assert phone.calls_answered == 0
        await asyncio.to_thread(page.shot, tmp_path / f"pop-{locale}.png")
        assert (seen["pop-kind"], seen["caller-name"], seen["caller-number"], seen["queue"]) == \
            (texts["offer"], "Çağrı Öztürk", "+90 532 123 45 67", texts["billing"])  # queues.yaml's label
        assert "Fatura itirazı" in seen["open-cases"]
        assert "main_menu" in seen["ivr-path"] and "open_case_menu" in seen["ivr-path"]
        assert seen["ivr-inputs"].split("\n") == ["open_case_menu", "2", "main_menu", "1"]
        assert seen["caller-value"] == ("48.750,00" if locale == "tr" else "48,750.00")
        assert seen["caller-tier"] == ("Altın · Bireysel" if locale == "tr" else "Gold · Consumer")

        await phone.wait_answered(20)
        await asyncio.to_thread(page.pop_kind, "answered")
        assert await asyncio.to_thread(page.text, "pop-kind") == texts["answered"]
        await asyncio.sleep(1.0)
        await call.hangup()
        linkedid = (await ended_call(gateway, CAGRI)).linkedid
        await asyncio.to_thread(page.pop_kind, "ended")

        notes = "İade onaylandı; müşteri <b>memnun</b>." if locale == "tr" else "Refund agreed; <b>happy</b>."
        case_id = await asyncio.to_thread(page.wrapup, "resolved", notes, "Fatura itirazı", "resolved")
        await asyncio.to_thread(page.shot, tmp_path / f"wrapup-{locale}.png")
        assert await asyncio.to_thread(page.save_by_shortcut) == texts["saved"]
        await asyncio.to_thread(page.shot, tmp_path / f"saved-{locale}.png")
        console = await asyncio.to_thread(page.console)
    finally:
        await asyncio.to_thread(page.quit)
    print(f"screenshots: {tmp_path}")

    [row] = await wait_for(lambda: [r for r in activities(crm_db, linkedid) if r["disposition"]], 10,
                           "the wrap-up in the call's activity")
    assert (row["agent_id"], row["queue"], row["disposition"], row["notes"], row["case_id"]) == \
        ("1001", "billing", "resolved", notes, int(case_id))
    assert len(activities(crm_db, linkedid)) == 1  # still the call's one activity
    assert [c for c in await gateway.directory.open_cases(row["customer_id"]) if c.id == int(case_id)] == []
    assert not [m for m in console if "Content Security Policy" in m], console


async def test_a_caller_who_hangs_up_while_the_phone_rings_withdraws_the_pop_with_a_note(
        web_on, gateway, crm_db, phones, tmp_path):
    need_chromium()
    accounts = gateway.api.app.state.services.accounts
    await asyncio.to_thread(accounts.add, "deniz", PASSWORD, role="agent", agent_id="1001",
                            display_name="Deniz Aydın", locale="en")
    phone = await phones.register_agent("1001", answer_after=None)  # lets it ring
    page = await asyncio.to_thread(Page, f"http://127.0.0.1:{gateway.api.port}")
    try:
        await asyncio.to_thread(page.sign_in, "deniz")
        await asyncio.to_thread(page.go_ready)
        call = await cagri_calls_billing(gateway, phones)
        await asyncio.to_thread(page.pop_kind, "offer")
        assert phone.calls_answered == 0
        await call.hangup()
        await asyncio.to_thread(page.pop_kind, "withdrawn")
        note = await asyncio.to_thread(page.text, "withdrawn-note")
        name = await asyncio.to_thread(page.text, "caller-name")
        await asyncio.to_thread(page.shot, tmp_path / "withdrawn-en.png")
    finally:
        await asyncio.to_thread(page.quit)
    assert (note, name) == ("The caller hung up before you answered.", "Çağrı Öztürk")
