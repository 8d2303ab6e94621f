"""The desk page in a real browser (Debian's chromium through selenium) on the real app: the
pop arrives over the socket and everything from the caller shows as text; a hostile caller
name `<img src=x onerror=alert(1)>`, hostile IVR input and case subject run no script. The
page is in the account's language (Turkish for Ayşe, English for Emily); screenshots are kept."""
import asyncio
import shutil

import pytest

from gateway.desk import resources
from gateway.desk.pop import CallerCard, CaseCard, Routing, ScreenPop, WithdrawReason
from gateway.desk.service import DeskService
from test_browser import CHROMEDRIVER, CHROMIUM, browser
from web_testing import PASSWORD, add_accounts

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_CASE = "</li><script>window.pwned=1</script>"


def hostile_pop(call_id: str) -> ScreenPop:
    card = CallerCard(known=True, name=HOSTILE, number="+90 532 123 45 67", number_kind="number", tier="gold",
                      lifetime_value="12500.50", language="tr", customer_id=9,
                      open_cases=[CaseCard(id=7, subject=HOSTILE_CASE, status="open", priority="high")])
    return ScreenPop(call_id=call_id, caller=card, ivr_path=["language", "main_menu"],
                     ivr_inputs={"main_menu": '"><svg onload=alert(2)>'}, queue="billing", waited_seconds=3,
                     routing=Routing(rule="longest_idle", candidates=2))


def sign_in_and_wait(driver, base, username):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 15)
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait.until(ec.url_to_be(f"{base}/desk"))
    wait.until(lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "up")
    return wait


def run(loop, coro):
    return asyncio.run_coroutine_threadsafe(coro, loop).result(10)


def watch(base, username, loop, desk, sessions, agent_id, shots) -> dict:
    from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seen = {}
    driver = browser()
    try:
        wait = sign_in_and_wait(driver, base, username)
        seen["state"] = driver.find_element(By.ID, "state").text
        driver.find_element(By.ID, "btn-ready").click()  # the time in the state runs
        wait.until(lambda d: d.find_element(By.ID, "state").get_attribute("data-state") == "available")
        wait.until(lambda d: d.find_element(By.ID, "state-time").text not in ("", "0:00", "0:01"))
        seen["ready"] = driver.find_element(By.ID, "state").text
        run(loop, desk.offer(agent_id, hostile_pop("hostile-call")))
        wait.until(lambda d: d.find_element(By.ID, "pop").is_displayed()
                   and d.find_element(By.ID, "caller-name").text)
        seen["name"] = driver.find_element(By.ID, "caller-name").text
        seen["number"] = driver.find_element(By.ID, "caller-number").text
        seen["case"] = driver.find_element(By.CSS_SELECTOR, "#open-cases li").text
        seen["inputs"] = driver.find_element(By.ID, "ivr-inputs").text
        seen["value"] = driver.find_element(By.ID, "caller-value").text
        seen["kind"] = driver.find_element(By.ID, "pop-kind").text
        seen["markup"] = len(driver.find_elements(By.CSS_SELECTOR, "#pop img, #pop script, #pop svg"))
        driver.save_screenshot(str(shots / f"pop-{username}.png"))
        run(loop, desk.withdrawn(agent_id, hostile_pop("hostile-call"), WithdrawReason.CALLER_HUNG_UP))
        wait.until(lambda d: d.find_element(By.ID, "withdrawn-note").is_displayed())
        seen["withdrawn"] = driver.find_element(By.ID, "withdrawn-note").text
        driver.save_screenshot(str(shots / f"withdrawn-{username}.png"))
        seen["pwned"] = driver.execute_script("return window.pwned || null")
        try:
            driver.switch_to.alert
            seen["alert"] = True
        except NoAlertPresentException:
            seen["alert"] = False
        seen["console"] = [entry["message"] for entry in driver.get_log("browser")]
        # The agent switches the page to the other language: the same desk comes back in it.
        other = "en" if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "tr" else "tr"
        driver.find_element(By.ID, f"lang-{other}").click()
        reloaded = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))
        reloaded.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == other)
        reloaded.until(lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "up")
        seen["switched"] = (driver.find_element(By.ID, "state").text, driver.find_element(By.ID, "caller-name").text)
        driver.save_screenshot(str(shots / f"switched-{username}.png"))
        # Signed out elsewhere: the open page notices and goes to the sign-in page.
        run(loop, sessions.delete(driver.get_cookie("ctigw_session")["value"]))
        wait.until(lambda d: d.current_url == f"{base}/login")
        seen["after_sign_out"] = driver.current_url
    finally:
        driver.quit()
    return seen


@pytest.mark.parametrize("username, agent_id", [("ayse", "1001"), ("emily", "1003")])
async def test_a_hostile_caller_shows_as_text_in_the_agents_language(start, redis_client, key_prefix, tmp_path,
                                                                     username, agent_id, monkeypatch):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/setup --test installs them)")
    web = await start()
    web.services.desk = desk = DeskService(redis_client, key_prefix)
    add_accounts(web)
    monkeypatch.setattr(resources, "SESSION_RECHECK", 0.3)
    loop = asyncio.get_running_loop()
    seen = await asyncio.to_thread(watch, web.url, username, loop, desk, web.services.sessions, agent_id, tmp_path)
    print(f"screenshots: {tmp_path}")
    assert seen["name"] == HOSTILE and seen["case"].startswith("#7 " + HOSTILE_CASE)
    assert '"><svg onload=alert(2)>' in seen["inputs"]
    assert (seen["markup"], seen["pwned"], seen["alert"]) == (0, None, False)
    assert not [m for m in seen["console"] if "Content Security Policy" in m], seen["console"]
    assert seen["after_sign_out"] == f"{web.url}/login"
    if username == "ayse":
        assert (seen["state"], seen["kind"], seen["value"]) == ("Oturum kapalı", "Gelen çağrı", "12.500,50")
        assert seen["ready"] == "Hazır"
        assert seen["withdrawn"] == "Arayan siz cevaplamadan kapattı."
        assert seen["switched"] == ("Ready", HOSTILE)  # and the withdrawn call's screen is still there
    else:
        assert (seen["state"], seen["kind"], seen["value"]) == ("Logged out", "Incoming call", "12,500.50")
        assert seen["ready"] == "Ready"
        assert seen["withdrawn"] == "The caller hung up before you answered."
        assert seen["switched"] == ("Hazır", HOSTILE)
