"""Issue 12's blind transfer from the desk page, end to end through the real Asterisk, in chromium:
two agents each signed in to their own desk page with a pjsua2 phone; Çağrı Öztürk (a known
customer) calls billing and reaches the first agent (the second cannot take billing calls, or is
not ready yet: the routing is deterministic); the first agent answers, types a note and transfers
the call in the page (Alt+T); the second agent's page pops the call with the note, the first's
says where it went and that the call is over for them; the second answers, the caller hangs up,
and the second agent opens a new case in the wrap-up. The call stays one CRM activity naming both
agents. Screenshots of both pages are kept in the test's tmp dir."""
from __future__ import annotations

import asyncio
import json

import pytest

from desk_browser import PASSWORD, Page, need_chromium, web_on  # noqa: F401
from gateway.acd.states import AgentState
from gateway_harness import activities, crm_db, ended_call, gateway, prompts, wait_for  # noqa: F401
from test_acd_calls import until_state
from test_screen_pop_calls import CAGRI, cagri_calls_billing

TEXTS = {
    "tr": {"from": "1001 numaralı temsilci aktardı", "to_queue": "Çağrı kuyruğa aktarıldı: Teknik destek.",
           "to_agent": "Çağrı temsilciye aktarıldı: 1002 · Kemal Kaya.", "ended": "Çağrı bitti",
           "saved": "Çağrı sonucu kaydedildi.", "transfer": "Aktar", "support": "Teknik destek"},
    "en": {"from": "Transferred by agent 1001", "to_queue": "Call transferred to the queue: Technical support.",
           "to_agent": "Call transferred to the agent: 1002 · Kemal Kaya.", "ended": "Call ended",
           "saved": "Wrap-up saved.", "transfer": "Transfer", "support": "Technical support"},
}


def transfer_by_shortcut(page: Page, target: str, note: str, shot=None) -> str:
    """Choose where to (a <select> value: queue:NAME or agent:ID), type the note, press Alt+T."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    page.wait(lambda d: page.el("transfer").is_displayed())
    Select(page.el("transfer-to")).select_by_value(target)
    page.el("transfer-note-text").send_keys(note)
    if shot is not None:
        page.shot(shot)
    ActionChains(page.driver).key_down(Keys.ALT).send_keys("t").key_up(Keys.ALT).perform()
    page.wait(lambda d: page.el("transfer").get_attribute("data-outcome") in ("transferred", "refused"))
    return page.text("transfer-message")


def wrapup_with_a_new_case(page: Page, disposition: str, notes: str, subject: str, priority: str) -> None:
    from selenium.webdriver.support.ui import Select

    page.wait(lambda d: page.el("wrapup").is_displayed() and len(Select(page.el("disposition")).options) > 1)
    Select(page.el("disposition")).select_by_value(disposition)
    page.el("notes").send_keys(notes)
    Select(page.el("case-id")).select_by_value("new")
    page.el("case-subject").send_keys(subject)
    Select(page.el("case-priority")).select_by_value(priority)


async def sign_in(gateway, username: str, agent_id: str, name: str, locale: str) -> Page:
    accounts = gateway.api.app.state.services.accounts
    await asyncio.to_thread(accounts.add, username, PASSWORD, role="agent", agent_id=agent_id, display_name=name,
                            locale=locale)
    page = await asyncio.to_thread(Page, f"http://127.0.0.1:{gateway.api.port}")
    await asyncio.to_thread(page.sign_in, username)
    return page


async def caller_reaches_the_first_agent(gateway, phones, first_phone, first_page: Page):
    call = await cagri_calls_billing(gateway, phones)
    await first_phone.wait_answered(30)
    await asyncio.to_thread(first_page.pop_kind, "answered")
    return call


@pytest.mark.parametrize("locale", ["tr", "en"])
async def test_a_blind_transfer_to_a_queue_reaches_a_second_agent_whose_pop_shows_the_note_and_stays_one_activity(
        web_on, gateway, crm_db, phones, tmp_path, locale):
    need_chromium()
    texts = TEXTS[locale]
    first_phone = await phones.register_agent("1001", answer_after=1.0)  # billing
    second_phone = await phones.register_agent("1004", answer_after=3.0)  # technical support: no billing skill
    first = await sign_in(gateway, "deniz", "1001", "Deniz Aydın", locale)
    second = None
    try:
        second = await sign_in(gateway, "emre", "1004", "Emre Demir", locale)
        await asyncio.to_thread(first.go_ready)
        await asyncio.to_thread(second.go_ready)
        shortcuts = await asyncio.to_thread(first.text, "shortcuts")
        assert f"Alt+T\n{texts['transfer']}" in shortcuts

        caller = await caller_reaches_the_first_agent(gateway, phones, first_phone, first)
        assert (await gateway.acd.get_agent_state("1004")).state is AgentState.AVAILABLE  # not offered billing
        note = ("Modem arızası, faturadan önce bakılsın. <b>acil</b>" if locale == "tr"
                else "Modem fault, look at it before the bill. <b>urgent</b>")
        said = await asyncio.to_thread(transfer_by_shortcut, first, "queue:support", note,
                                       tmp_path / f"first-transfer-panel-{locale}.png")
        await asyncio.to_thread(first.shot, tmp_path / f"first-transferred-{locale}.png")
        assert said == texts["to_queue"]

        # The second agent's screen pops the call with the first agent's note, as text.
        await asyncio.to_thread(second.wait, lambda d: note in second.text("transfer-note"), 40)
        await asyncio.to_thread(second.shot, tmp_path / f"second-pop-{locale}.png")
        assert await asyncio.to_thread(second.text, "transfer-note") == f"{texts['from']}: {note}"
        assert await asyncio.to_thread(second.text, "caller-name") == "Çağrı Öztürk"
        assert await asyncio.to_thread(second.text, "queue") == texts["support"]
        # The first agent's screen: the call is over for them (after-call work), the outcome stays.
        await asyncio.to_thread(first.pop_kind, "ended")
        assert await asyncio.to_thread(first.text, "pop-kind") == texts["ended"]
        assert not await asyncio.to_thread(lambda: first.el("transfer-form").is_displayed())
        assert (await gateway.acd.get_agent_state("1001")).state is AgentState.WRAP_UP

        await second_phone.wait_answered(30)
        await asyncio.to_thread(second.pop_kind, "answered")
        await until_state(gateway, "1004", AgentState.ON_CALL)
        await asyncio.sleep(1.0)
        await caller.hangup()
        linkedid = (await ended_call(gateway, CAGRI)).linkedid
        await asyncio.to_thread(second.pop_kind, "ended")

        subject = "Modem arızası" if locale == "tr" else "Modem fault"
        await asyncio.to_thread(wrapup_with_a_new_case, second, "resolved", "Modem değişecek.", subject, "high")
        await asyncio.to_thread(second.shot, tmp_path / f"second-wrapup-{locale}.png")
        saved = await asyncio.to_thread(second.save_by_shortcut)
        await asyncio.to_thread(second.shot, tmp_path / f"second-saved-{locale}.png")
        console = await asyncio.to_thread(first.console) + await asyncio.to_thread(second.console)
    finally:
        await asyncio.to_thread(first.quit)
        if second is not None:
            await asyncio.to_thread(second.quit)
    print(f"screenshots: {tmp_path}")
    assert saved.startswith(texts["saved"]), saved

    [row] = await wait_for(lambda: [r for r in activities(crm_db, linkedid) if r["disposition"]], 10,
                           "the wrap-up in the call's activity")
    assert len(activities(crm_db, linkedid)) == 1  # one activity for the whole call...
    assert (row["outcome"], row["agent_id"], row["queue"], row["disposition"]) == \
        ("transferred", "1004", "support", "resolved")
    transfers = json.loads(row["transfers"])  # ...naming both agents
    assert [(t["from_agent"], t["to_queue"], t["note"]) for t in transfers] == [("1001", "support", note)]
    [case] = [c for c in await gateway.directory.open_cases(row["customer_id"]) if c.id == row["case_id"]]
    assert (case.subject, case.priority, case.owner) == (subject, "high", "1004")
    assert str(case.id) in saved  # "Case #N opened."
    assert not [m for m in console if "Content Security Policy" in m], console


async def test_a_blind_transfer_to_a_named_agent_waits_for_them_and_pops_their_screen_with_the_note(
        web_on, gateway, crm_db, phones, tmp_path):
    need_chromium()
    texts = TEXTS["en"]
    first_phone = await phones.register_agent("1001", answer_after=1.0)
    named_phone = await phones.register_agent("1002", answer_after=1.0)  # billing too: not ready at first
    first = await sign_in(gateway, "deniz", "1001", "Deniz Aydın", "en")
    named = None
    try:
        named = await sign_in(gateway, "kemal", "1002", "Kemal Kaya", "en")
        await asyncio.to_thread(first.go_ready)
        await asyncio.to_thread(named.el("btn-not-ready").click)
        await asyncio.to_thread(named.wait, lambda d: named.el("state").get_attribute("data-state") == "not_ready")

        caller = await caller_reaches_the_first_agent(gateway, phones, first_phone, first)
        note = "Asked for Kemal by name."
        said = await asyncio.to_thread(transfer_by_shortcut, first, "agent:1002", note)
        await asyncio.to_thread(first.shot, tmp_path / "first-transferred-to-agent-en.png")
        assert said == texts["to_agent"]
        await asyncio.to_thread(first.pop_kind, "ended")
        await asyncio.sleep(1.0)
        assert named_phone.rings == []  # the caller waits for Kemal alone, who is not ready yet

        await asyncio.to_thread(named.el("btn-ready").click)  # the waiting caller is offered at once
        await asyncio.to_thread(named.wait, lambda d: note in named.text("transfer-note"), 40)
        await asyncio.to_thread(named.shot, tmp_path / "named-pop-en.png")
        assert await asyncio.to_thread(named.text, "transfer-note") == f"{texts['from']}: {note}"
        await named_phone.wait_answered(30)
        await until_state(gateway, "1002", AgentState.ON_CALL)
        await caller.hangup()
        linkedid = (await ended_call(gateway, CAGRI)).linkedid
    finally:
        await asyncio.to_thread(first.quit)
        if named is not None:
            await asyncio.to_thread(named.quit)
    [row] = await wait_for(lambda: activities(crm_db, linkedid), 10, "the call's one activity")
    assert (row["outcome"], row["agent_id"]) == ("transferred", "1002")
    assert [(t["from_agent"], t["to_agent"], t["note"]) for t in json.loads(row["transfers"])] == \
        [("1001", "1002", note)]
