"""The agent's desk in a real chromium (selenium), for the end-to-end tests through Asterisk:
the `web_on` fixture (list it before `gateway`), a `Page` driver and the accounts' test password."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct horse battery"


@pytest.fixture
def web_on(rig_settings):
    """The gateway's web on a free port (listed before `gateway`)."""
    rig_settings.http.token_secret = "e2e-" + "d" * 28
    rig_settings.http.port = 0


class Page:
    """The agent's desk in chromium, driven step by step from the test's loop (each step in a thread)."""

    def __init__(self, base: str):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-US"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.base = base
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    def wait(self, condition, timeout: float = 20):
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)

    def el(self, element_id: str):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, element_id)

    def text(self, element_id: str) -> str:
        return self.el(element_id).text

    def sign_in(self, username: str) -> None:
        self.driver.get(f"{self.base}/login")
        self.el("username").send_keys(username)
        self.el("password").send_keys(PASSWORD)
        self.el("password").submit()
        self.wait(lambda d: d.current_url == f"{self.base}/desk")
        self.wait(lambda d: self.el("conn").get_attribute("data-state") == "up")

    def go_ready(self) -> str:
        self.el("btn-ready").click()
        self.wait(lambda d: self.el("state").get_attribute("data-state") == "available")
        return self.text("state")

    def pop_kind(self, kind: str, timeout: float = 30) -> None:
        self.wait(lambda d: self.el("pop").get_attribute("data-kind") == kind, timeout)

    def wrapup(self, disposition: str, notes: str, case_subject: str, case_status: str) -> str:
        from selenium.webdriver.support.ui import Select

        self.wait(lambda d: self.el("wrapup").is_displayed() and len(Select(self.el("disposition")).options) > 1)
        Select(self.el("disposition")).select_by_value(disposition)
        self.el("notes").send_keys(notes)
        cases = Select(self.el("case-id"))
        [case] = [o for o in cases.options if case_subject in o.text]
        cases.select_by_value(case.get_attribute("value"))
        Select(self.el("case-status")).select_by_value(case_status)
        return case.get_attribute("value")

    def save_by_shortcut(self) -> str:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).key_down(Keys.ALT).send_keys("s").key_up(Keys.ALT).perform()
        self.wait(lambda d: self.el("wrapup-message").is_displayed())
        return self.text("wrapup-message")

    def shot(self, path) -> None:
        self.driver.save_screenshot(str(path))

    def console(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")]

    def quit(self) -> None:
        self.driver.quit()


def need_chromium() -> None:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/setup --test installs them)")
