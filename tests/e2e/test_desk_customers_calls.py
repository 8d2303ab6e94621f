"""Issue 12, the desk page's customer panel end to end: the real Asterisk, pjsua2 phones for the
agent, the callers and the customers' side, the real ACD and CRM, and the page in chromium.

(a) A caller no customer has calls; the pop says "unknown caller"; the agent finds Çağrı Öztürk
    in the page (typed "cagri") and links the caller's number to him; the caller's next call
    from that number pops Çağrı's name.
(b) The agent opens Çağrı's record in the page and clicks "Call" on his number: the agent's
    phone rings first and answers, then the customer's (a pjsua2 phone on the carrier side);
    the page shows the outbound call; after the hangup there is one outbound activity for him.
Screenshots are kept in the test's tmp dir."""
from __future__ import annotations

import asyncio

from desk_browser import PASSWORD, Page, need_chromium, web_on  # noqa: F401
from gateway.acd.states import AgentState
from gateway.calls.model import CallPhase
from gateway_harness import (activities, at_node, crm_db, ended_call, gateway, live_call, prompts,  # noqa: F401
                             wait_for)
from test_acd_calls import billing_call_in_turkish, new_number, until_state

CAGRI_ID, CAGRI_E164 = 1, "+905321234567"  # demo data: Çağrı Öztürk, an open case, Turkish


class CustomerPanel:
    """The page's customer panel, driven from the test (each step runs in a thread)."""

    def __init__(self, page: Page):
        self.page = page

    def find(self, typed: str) -> list[str]:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        box = self.page.el("customer-q")
        box.clear()
        box.send_keys(typed + Keys.ENTER)
        hits = self.page.el("customer-hits")
        self.page.wait(lambda d: hits.get_attribute("data-query") == typed and hits.get_attribute("data-state") == "done")
        return [e.text for e in self.page.driver.find_elements(By.CSS_SELECTOR, "#customer-hits .hit-name")]

    def hit_button(self, name: str, css_class: str):
        from selenium.webdriver.common.by import By

        [hit] = [h for h in self.page.driver.find_elements(By.CSS_SELECTOR, "#customer-hits .hit")
                 if h.find_element(By.CLASS_NAME, "hit-name").text == name]
        return hit.find_element(By.CLASS_NAME, css_class)

    def link(self, name: str) -> str:
        self.hit_button(name, "hit-link").click()
        self.page.wait(lambda d: self.page.el("customer-message").get_attribute("data-ok") == "yes"
                       and self.page.text("cv-name") == name)
        return self.page.text("customer-message")

    def view(self, name: str) -> None:
        self.hit_button(name, "hit-view").click()
        self.page.wait(lambda d: self.page.el("customer-view").is_displayed() and self.page.text("cv-name") == name)

    def dial(self, e164: str) -> str:
        from selenium.webdriver.common.by import By

        self.page.driver.find_element(By.CSS_SELECTOR, f'#cv-numbers .cv-dial[data-number="{e164}"]').click()
        self.page.wait(lambda d: self.page.el("cv-dial-message").is_displayed())
        return self.page.text("cv-dial-message")

    def seen(self, *element_ids: str) -> dict:
        return {element_id: self.page.text(element_id) for element_id in element_ids}


async def step(fn, *args):
    return await asyncio.to_thread(fn, *args)


async def signed_in_ready(gateway, username: str, locale: str) -> Page:
    accounts = gateway.api.app.state.services.accounts
    await asyncio.to_thread(accounts.add, username, PASSWORD, role="agent", agent_id="1001",
                            display_name="Deniz Aydın", locale=locale)
    page = await step(Page, f"http://127.0.0.1:{gateway.api.port}")
    await step(page.sign_in, username)
    await step(page.go_ready)
    return page


async def known_caller_calls_billing(gw, phones, number: str):
    """A caller with Çağrı's record (his open case): says 2 (something else), then 1 (billing)."""
    call = await phones.call("100", caller_id=number)
    await at_node(gw, number, "open_case_menu")
    await call.send_digits("2")
    await at_node(gw, number, "main_menu")
    await call.send_digits("1")
    return call


async def test_an_unknown_caller_is_searched_and_linked_and_their_next_call_pops_the_customer(
        web_on, gateway, crm_db, phones, tmp_path):
    need_chromium()
    number = new_number()  # no customer has it
    assert await gateway.directory.search(number) == []
    phone = await phones.register_agent("1001", answer_after=3.0)  # the pop is seen while it rings
    page = await signed_in_ready(gateway, "deniz", "tr")
    panel = CustomerPanel(page)
    try:
        caller = await billing_call_in_turkish(gateway, phones, number)
        await step(page.pop_kind, "offer")
        first = await step(panel.seen, "caller-name", "caller-number", "customer-call")
        await phone.wait_answered(20)
        await step(page.pop_kind, "answered")
        hits = await step(panel.find, "cagri")
        await step(page.shot, tmp_path / "unknown-caller-tr.png")
        linked = await step(panel.link, "Çağrı Öztürk")  # while the caller is on the line
        numbers = await step(page.text, "cv-numbers")
        await step(page.shot, tmp_path / "linked-tr.png")
        await asyncio.sleep(0.5)
        await caller.hangup()
        first_call = await ended_call(gateway, number)
        await step(page.pop_kind, "ended")
        await until_state(gateway, "1001", AgentState.AVAILABLE, 30)  # the short after-call work runs out

        again = await known_caller_calls_billing(gateway, phones, number)
        await step(page.wait, lambda d: page.el("pop").get_attribute("data-kind") == "offer"
                   and page.el("pop").get_attribute("data-call") != first_call.linkedid, 30)
        second = await step(panel.seen, "caller-name", "caller-number", "open-cases")
        open_offered = await step(lambda: page.el("pop-open-customer").is_displayed())
        context_shown = await step(lambda: page.el("customer-call").is_displayed())
        await step(page.shot, tmp_path / "second-call-tr.png")
        await phone.wait_answered(20)
        await again.hangup()
        second_call = await wait_for(lambda: next((c for c in gateway.tracker.ended
                                                   if c.raw_ani == number and c is not first_call), None),
                                     30, "the second call to end")
        console = await step(page.console)
    finally:
        await step(page.quit)
    print(f"screenshots: {tmp_path}")

    shown = "+90 " + " ".join((number[3:6], number[6:9], number[9:11], number[11:]))
    assert (first["caller-name"], first["caller-number"]) == ("Bilinmeyen arayan", shown)
    assert first["customer-call"].startswith(f"Arayan {shown} henüz müşteri değil")
    assert hits[0] == "Çağrı Öztürk"
    assert linked == f"{number} numarası artık Çağrı Öztürk adlı müşteriye bağlı."
    assert number in numbers and CAGRI_E164 in numbers
    assert [h.id for h in await gateway.directory.search(number)] == [CAGRI_ID]
    assert (second["caller-name"], second["caller-number"]) == ("Çağrı Öztürk", shown)
    assert "Fatura itirazı" in second["open-cases"]
    assert open_offered and not context_shown
    assert not [m for m in console if "Content Security Policy" in m], console
    [row] = await wait_for(lambda: activities(crm_db, second_call.linkedid), 10, "the second call's activity")
    assert (row["customer_id"], row["agent_id"]) == (CAGRI_ID, "1001")
    # The first call's one activity is Çağrı's too: its number was linked during that call.
    # (Another branch fixes a defect where linking DURING a live call could leave the call's
    # activity on a lead: if this fails on customer_id, that is the defect, not the page.)
    [first_row] = await wait_for(lambda: activities(crm_db, first_call.linkedid), 10, "the first call's activity")
    assert first_row["customer_id"] == CAGRI_ID, \
        f"KNOWN DEFECT: the first call's activity is on customer {first_row['customer_id']}, not Çağrı"


async def test_click_to_dial_rings_a_pjsua2_phone_playing_the_customer_and_logs_an_outbound_activity(
        web_on, gateway, crm_db, phones, tmp_path):
    need_chromium()
    agent = await phones.register_agent("1001", answer_after=1.0)
    customer = await phones.register_customers("pstn", answer_after=1.0)
    page = await signed_in_ready(gateway, "deniz", "en")
    panel = CustomerPanel(page)
    try:
        await step(panel.find, "Öztürk")
        await step(panel.view, "Çağrı Öztürk")
        said = await step(panel.dial, CAGRI_E164)
        await step(page.shot, tmp_path / "dialling-en.png")
        ring = await agent.wait_ringing(15)  # the agent's phone first...
        assert customer.rings == []
        await agent.wait_answered(10)
        dialled = await customer.wait_ringing(20)  # ...then the customer's
        await customer.wait_answered(10)
        await step(page.pop_kind, "answered")  # the customer answered: the call is in progress
        linkedid = await step(lambda: page.el("pop").get_attribute("data-call"))
        call = await wait_for(lambda: gateway.tracker.calls.get(linkedid), 10, "the outbound call in the tracker")
        await wait_for(lambda: call.phase is CallPhase.CONNECTED, 15, "the customer to answer")
        pop = await step(panel.seen, "pop-kind", "pop-direction", "caller-name", "caller-number")
        await step(lambda: page.driver.execute_script("window.scrollTo(0, 0)"))
        await step(page.shot, tmp_path / "outbound-call-en.png")
        await asyncio.sleep(1.0)
        await customer.hangup()
        await wait_for(lambda: call in gateway.tracker.ended, 20, "the outbound call to end")
        await step(page.pop_kind, "ended")
        await step(page.shot, tmp_path / "outbound-ended-en.png")
        console = await step(page.console)
    finally:
        await step(page.quit)
    print(f"screenshots: {tmp_path}")

    assert said == f"Calling {CAGRI_E164}: your phone rings first."
    assert CAGRI_E164 in ring["from"] and CAGRI_E164 in dialled["to"]
    assert (pop["pop-kind"], pop["pop-direction"], pop["caller-name"], pop["caller-number"]) == \
        ("Call in progress", "Outbound", "Çağrı Öztürk", "+90 532 123 45 67")
    [row] = await wait_for(lambda: activities(crm_db, linkedid), 10, "the outbound activity")
    assert (row["direction"], row["outcome"], row["agent_id"], row["customer_id"], row["e164"]) == \
        ("outbound", "answered", "1001", CAGRI_ID, CAGRI_E164)
    assert [r["linkedid"] for r in activities_of(crm_db, CAGRI_ID) if r["direction"] == "outbound"
            and r["linkedid"] and not r["linkedid"].startswith("demo-")] == [linkedid]
    assert not [m for m in console if "Content Security Policy" in m], console


def activities_of(crm_db, customer_id: int) -> list[dict]:
    import sqlite3

    with sqlite3.connect(crm_db) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM activities WHERE customer_id = ?", (customer_id,))]
