"""The desk page's customer panel in a real chromium (selenium) on the real app, the real ACD and
a SQLite CRM with demo customers (tests/desk_web_fixtures.py; Asterisk is its recording double):
the search folds Turkish letters ("cagri" and "ÇAĞRI" find Çağrı Öztürk), Alt+F reaches the
search box, the customer view pages the whole history with "Older", "Call" asks for a
click-to-dial, an unknown caller's number is linked to a customer (or the caller becomes one)
from the page, and a hostile customer name and notes show as text. Screenshots are kept."""
import asyncio
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from desk_web_fixtures import EN_BILLING
from gateway.crm.activities import CallActivity
from gateway.desk.pop import CallerCard, ScreenPop
from test_browser import CHROMEDRIVER, CHROMIUM, browser
from test_desk_browser import sign_in_and_wait

HOSTILE = "<img src=x onerror=alert(1)> Zeynep"
HOSTILE_NOTES = "</dd><script>window.pwned=1</script>"
CAGRI_ID, EMILY_ID = 1, 2
UNKNOWN = "+905551112299"


@pytest.fixture(autouse=True)
def need_chromium():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/setup --test installs them)")


def crm(desk_web, sql, *params):
    with sqlite3.connect(desk_web.crm_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, params).fetchall()


class Desk:
    """The signed-in page, step by step (selenium runs in a worker thread)."""

    def __init__(self, base: str, username: str):
        self.driver = browser()
        self.driver.set_window_size(1280, 1400)
        self.wait = sign_in_and_wait(self.driver, base, username)

    def el(self, element_id):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, element_id)

    def all(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def until(self, condition, timeout: float = 15):
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda d: condition())

    def find(self, typed: str, enter: bool = False) -> list[str]:
        """Type into the search box; the hits' names once the hits are for `typed`."""
        from selenium.webdriver.common.keys import Keys

        box = self.el("customer-q")
        box.clear()
        box.send_keys(typed + (Keys.ENTER if enter else ""))
        hits = self.el("customer-hits")
        self.until(lambda: hits.get_attribute("data-query") == typed.strip()
                   and hits.get_attribute("data-state") == "done")
        return [e.text for e in self.all("#customer-hits .hit-name")]

    def hit(self, name: str):
        from selenium.webdriver.common.by import By
        [hit] = [h for h in self.all("#customer-hits .hit") if h.find_element(By.CLASS_NAME, "hit-name").text == name]
        return hit

    def open(self, name: str) -> None:
        from selenium.webdriver.common.by import By
        self.hit(name).find_element(By.CLASS_NAME, "hit-view").click()
        self.until(lambda: self.el("customer-view").is_displayed() and self.el("cv-name").text == name)

    def history_ids(self) -> list[int]:
        return [int(e.get_attribute("data-activity")) for e in self.all("#cv-history li[data-activity]")]

    def shot(self, path) -> None:
        self.driver.save_screenshot(str(path))

    def quit(self) -> None:
        self.driver.quit()


async def step(fn, *args):
    return await asyncio.to_thread(fn, *args)


async def test_the_search_folds_turkish_and_the_customer_view_pages_the_whole_history(desk_web, tmp_path):
    # Çağrı's history: the demo's activities and 15 more calls, more than one page of ten.
    start = datetime.now(timezone.utc) - timedelta(days=1)
    for n in range(15):
        await desk_web.activities.record_call(CallActivity(
            linkedid=f"hist-{n}", raw_ani="+905321234567", outcome="answered", agent_id="1002", queue="billing",
            started_at=start + timedelta(minutes=n)))
    [(history,)] = crm(desk_web, "SELECT count(*) FROM activities WHERE customer_id = ?", CAGRI_ID)
    assert history > 20
    await desk_web.acd.login("1001")
    page = await step(Desk, desk_web.web.url, "ayse")
    seen = {}
    try:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        seen["shortcuts"] = await step(lambda: page.el("shortcuts").text)
        await step(lambda: ActionChains(page.driver).key_down(Keys.ALT).send_keys("f").key_up(Keys.ALT).perform())
        seen["focused"] = await step(lambda: page.driver.execute_script("return document.activeElement.id"))
        seen["cagri"] = await step(page.find, "cagri")  # as typed: searched after a pause
        seen["CAGRI"] = await step(page.find, "ÇAĞRI", True)
        seen["account"] = await step(page.find, "12345678", True)
        seen["nobody"] = await step(page.find, "Xqzw Yqzw", True)
        seen["nobody_text"] = await step(lambda: page.el("customer-hits-count").text)
        await step(page.find, "a", True)
        seen["hint"] = await step(lambda: page.el("customer-message").text)
        await step(page.find, "çağrı öztürk", True)
        seen["link_buttons"] = len(await step(page.all, "#customer-hits .hit-link"))  # no call on screen
        await step(page.open, "Çağrı Öztürk")
        seen["value"] = await step(lambda: page.el("cv-value").text)
        seen["cases"] = await step(lambda: page.el("cv-cases").text)
        seen["orders"] = await step(lambda: page.el("cv-orders").text)
        seen["numbers"] = await step(lambda: page.el("cv-numbers").text)
        pages = [await step(page.history_ids)]
        await step(page.shot, tmp_path / "customer-view-tr.png")
        while await step(lambda: page.el("cv-older").is_displayed()):
            before = len(pages[-1])
            await step(lambda: page.el("cv-older").click())
            await step(page.until, lambda: len(page.history_ids()) > before)
            pages.append(await step(page.history_ids))
        await step(page.shot, tmp_path / "customer-history-tr.png")

        await step(lambda: page.all("#cv-numbers .cv-dial")[0].click())  # click-to-dial
        await step(page.until, lambda: page.el("cv-dial-message").is_displayed())
        seen["dialled"] = await step(lambda: page.el("cv-dial-message").text)
        await step(page.until, lambda: page.el("pop").get_attribute("data-kind") == "offer")
        await step(page.shot, tmp_path / "dialled-tr.png")
        await step(lambda: page.all("#cv-numbers .cv-dial")[0].click())  # on that call now: refused
        await step(page.until, lambda: page.el("cv-dial-message").get_attribute("data-ok") == "no")
        seen["refused"] = await step(lambda: page.el("cv-dial-message").text)
        seen["console"] = await step(lambda: [e["message"] for e in page.driver.get_log("browser")])
    finally:
        await step(page.quit)
    print(f"screenshots: {tmp_path}")

    assert "Alt+F" in seen["shortcuts"] and "Müşteri bul" in seen["shortcuts"]
    assert seen["focused"] == "customer-q"
    assert seen["cagri"][0] == seen["CAGRI"][0] == seen["account"][0] == "Çağrı Öztürk"
    assert seen["nobody"] == [] and seen["nobody_text"] == "Müşteri bulunamadı."
    assert seen["hint"] == "Adın en az iki harfini, bir hesap numarasını ya da bir telefon numarasını yazın."
    assert seen["link_buttons"] == 0
    assert seen["value"] == "48.750,00"
    assert "Fatura itirazı" in seen["cases"] and "Açık" in seen["cases"] and "Modem değişimi" in seen["cases"]
    assert "SP-000000002" in seen["orders"] and "kargoda" in seen["orders"] and "₺3.499,00" in seen["orders"]
    assert "+905321234567" in seen["numbers"]
    # Ten a page, each page older than the one before, nothing twice, the whole history in the end.
    assert [len(p) for p in pages] == [10 * (i + 1) for i in range(len(pages) - 1)] + [history]
    ids = pages[-1]
    expected = [row[0] for row in crm(desk_web, "SELECT id FROM activities WHERE customer_id = ? "
                                                "ORDER BY occurred_at DESC, id DESC", CAGRI_ID)]
    assert ids == expected
    assert seen["dialled"] == "+905321234567 aranıyor: önce sizin telefonunuz çalacak."
    [(_, endpoint, number, _)] = desk_web.asterisk.actions
    assert (endpoint, number) == ("1001", "+905321234567")
    assert seen["refused"].startswith("Arama başlatılamadı: ")
    assert not [m for m in seen["console"] if "Content Security Policy" in m], seen["console"]


async def test_a_hostile_customer_name_and_notes_show_as_text(desk_web, tmp_path):
    customer_id = await desk_web.directory.create_customer(HOSTILE, "en", "+447911123456")
    crm(desk_web, "UPDATE customers SET notes = ? WHERE id = ?", HOSTILE_NOTES, customer_id)
    page = await step(Desk, desk_web.web.url, "emily")
    try:
        names = await step(page.find, "onerror zeynep", True)
        await step(page.open, HOSTILE)
        seen = {"names": names, "name": await step(lambda: page.el("cv-name").text),
                "notes": await step(lambda: page.el("cv-notes").text),
                "language": await step(lambda: page.el("cv-language").text),
                "markup": len(await step(page.all, "#customers img, #customers script:not([src])")),
                "pwned": await step(lambda: page.driver.execute_script("return window.pwned || null"))}
        await step(page.shot, tmp_path / "hostile-en.png")
        seen["console"] = await step(lambda: [e["message"] for e in page.driver.get_log("browser")])
    finally:
        await step(page.quit)
    assert seen["names"] == [HOSTILE] and seen["name"] == HOSTILE and seen["notes"] == HOSTILE_NOTES
    assert seen["language"] == "English"
    assert (seen["markup"], seen["pwned"]) == (0, None)
    assert not [m for m in seen["console"] if "alert" in m or "Content Security Policy" in m], seen["console"]


def unknown_caller(call_id: str) -> ScreenPop:
    card = CallerCard(known=False, number="+90 555 111 22 99", number_e164=UNKNOWN, number_kind="number",
                      number_display="+90 555 111 22 99")
    return ScreenPop(call_id=call_id, caller=card, queue="billing", language="tr")


async def test_an_unknown_callers_number_is_linked_to_the_customer_found(desk_web, tmp_path):
    await desk_web.acd.login("1001")
    page = await step(Desk, desk_web.web.url, "ayse")
    try:
        call = await desk_web.connected_call("1001", "L-unknown", raw_ani=UNKNOWN)
        await desk_web.web.services.desk.answered("1001", unknown_caller(call.linkedid))
        await step(page.until, lambda: page.el("pop").get_attribute("data-kind") == "answered"
                   and page.el("customer-call").is_displayed())
        seen = {"caller": await step(lambda: page.el("caller-name").text),
                "context": await step(lambda: page.el("customer-call").text),
                "pop_open": await step(lambda: page.el("pop-open-customer").is_displayed())}
        await step(page.find, "emily", True)
        await step(page.shot, tmp_path / "unknown-caller-tr.png")
        await step(lambda: page.all("#customer-hits .hit-link")[0].click())
        await step(page.until, lambda: page.el("customer-message").get_attribute("data-ok") == "yes"
                   and page.el("cv-name").text == "Emily Clarke")
        seen["message"] = await step(lambda: page.el("customer-message").text)
        seen["numbers"] = await step(lambda: page.el("cv-numbers").text)
        seen["link_buttons"] = len(await step(page.all, "#customer-hits .hit-link"))
        seen["context_after"] = await step(lambda: page.el("customer-call").is_displayed())
        seen["pop_open_after"] = await step(lambda: page.el("pop-open-customer").is_displayed())
        await step(page.shot, tmp_path / "linked-tr.png")
    finally:
        await step(page.quit)
    assert seen["caller"] == "Bilinmeyen arayan" and not seen["pop_open"]
    assert seen["context"].startswith("Arayan +90 555 111 22 99 henüz müşteri değil")
    assert seen["message"] == "+905551112299 numarası artık Emily Clarke adlı müşteriye bağlı."
    assert UNKNOWN in seen["numbers"]
    assert (seen["link_buttons"], seen["context_after"], seen["pop_open_after"]) == (0, False, True)
    assert crm(desk_web, "SELECT customer_id FROM phone_numbers WHERE e164 = ?", UNKNOWN) == [(EMILY_ID,)]
    assert ("ayse", "desk.customer.link-number", f"customer {EMILY_ID}", "ok") in \
        [(e.actor, e.action, e.target, e.outcome) for e in desk_web.audit]


async def test_after_the_call_the_unknown_caller_becomes_a_new_customer(desk_web, tmp_path):
    await desk_web.acd.login("1003")
    page = await step(Desk, desk_web.web.url, "emily")
    try:
        linkedid = await desk_web.finished_call("1003", "L-new", raw_ani=UNKNOWN, route=EN_BILLING)
        await desk_web.web.services.desk.ended("1003", unknown_caller(linkedid).model_copy(update={"language": "en"}))
        await step(page.until, lambda: page.el("pop").get_attribute("data-kind") == "ended"
                   and page.el("btn-new-customer").is_displayed())
        await step(lambda: page.el("btn-new-customer").click())
        await step(lambda: page.el("new-customer-name").send_keys("Şule Doğan <b>"))
        seen = {"language": await step(lambda: page.el("new-customer-language").get_attribute("value"))}
        await step(page.shot, tmp_path / "new-customer-en.png")
        await step(lambda: page.el("create-customer").click())
        await step(page.until, lambda: page.el("customer-message").get_attribute("data-ok") == "yes"
                   and page.el("customer-view").is_displayed())
        seen["message"] = await step(lambda: page.el("customer-message").text)
        seen["name"] = await step(lambda: page.el("cv-name").text)
        seen["form"] = await step(lambda: page.el("new-customer").is_displayed())
        await step(page.shot, tmp_path / "created-en.png")
    finally:
        await step(page.quit)
    assert seen["language"] == "en" and not seen["form"]
    assert seen["message"] == "Şule Doğan <b> was added as a customer with number +90 555 111 22 99."
    assert seen["name"] == "Şule Doğan <b>"
    [(customer_id, language, lead)] = crm(desk_web, "SELECT c.id, c.language, c.is_lead FROM customers c JOIN "
                                                    "phone_numbers p ON p.customer_id = c.id WHERE p.e164 = ?",
                                          UNKNOWN)
    assert (language, lead) == ("en", 0)
    assert crm(desk_web, "SELECT customer_id FROM activities WHERE linkedid = ?", linkedid) == [(customer_id,)]
