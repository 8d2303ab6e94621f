"""A real browser (Debian's chromium, driven by chromedriver through selenium) signs in
through the form, sees the desk in Turkish for a Turkish account, signs out, and is sent to
the sign-in page when it asks for the desk again. Screenshots of both pages are kept in the
test's tmp dir; the browser's console must show no Content-Security-Policy complaint."""
import asyncio
import shutil

import pytest

from web_testing import PASSWORD, add_accounts

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1100,760", "--lang=en-US"):  # an English browser: the account's language wins
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def walk_through(base: str, shots) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    seen = {}
    driver = browser()
    try:
        wait = WebDriverWait(driver, 15)
        driver.get(f"{base}/desk")
        wait.until(ec.url_to_be(f"{base}/login"))
        seen["login_title"] = driver.title
        driver.save_screenshot(str(shots / "login.png"))
        driver.find_element(By.ID, "username").send_keys("ayse")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait.until(ec.url_to_be(f"{base}/desk"))
        seen["desk_title"] = driver.title
        seen["name"] = driver.find_element(By.ID, "name").text
        seen["role"] = driver.find_element(By.ID, "role").text
        seen["heading"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["logout"] = driver.find_element(By.ID, "logout").text
        seen["session_cookie_visible_to_script"] = driver.execute_script("return document.cookie")
        driver.save_screenshot(str(shots / "desk.png"))
        driver.find_element(By.ID, "logout").click()
        wait.until(ec.url_to_be(f"{base}/login"))
        driver.get(f"{base}/desk")
        wait.until(ec.url_to_be(f"{base}/login"))
        seen["after_logout"] = driver.current_url
        seen["console"] = [entry["message"] for entry in driver.get_log("browser")]
    finally:
        driver.quit()
    return seen


async def test_a_turkish_agent_signs_in_sees_the_desk_and_signs_out_in_a_real_browser(web, tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/setup --test installs them)")
    add_accounts(web)
    seen = await asyncio.to_thread(walk_through, web.url, tmp_path)  # the loop keeps serving meanwhile
    assert seen["login_title"] == "Sign in · ctigw"  # before signing in: the browser's language
    assert seen["desk_title"] == "Temsilci masası · ctigw"
    assert (seen["heading"], seen["name"], seen["role"], seen["logout"]) == \
        ("Temsilci masası", "Nazlı Yılmaz", "temsilci", "Çıkış yap")
    assert "ctigw_session" not in seen["session_cookie_visible_to_script"]  # HttpOnly
    assert seen["after_logout"] == f"{web.url}/login"
    assert not [m for m in seen["console"] if "Content Security Policy" in m], seen["console"]
    assert (tmp_path / "login.png").stat().st_size > 0 and (tmp_path / "desk.png").stat().st_size > 0
    print(f"screenshots: {tmp_path / 'login.png'} {tmp_path / 'desk.png'}")
