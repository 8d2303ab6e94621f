"""Signing in and out through the pages, over real HTTP: sessions in Redis, cookies, the
pages' language and security headers, the audit trail."""
import asyncio
import secrets

import httpx

from web_testing import PASSWORD, add_accounts, form_token, sign_in

CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"


def client(web) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=web.url, follow_redirects=False, timeout=10)


async def test_an_agent_signs_in_sees_the_desk_and_signs_out(web):
    add_accounts(web)
    async with client(web) as browser:
        r = await browser.get("/desk")
        assert (r.status_code, r.headers["location"]) == (303, "/login")
        r = await sign_in(browser, "ayse")
        assert (r.status_code, r.headers["location"]) == (303, "/desk")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("ctigw_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https adds it
        r = await browser.get("/desk")
        assert r.status_code == 200
        assert "Nazlı Yılmaz" in r.text and "temsilci" in r.text and "1001" in r.text
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
        assert r.headers["cache-control"] == "no-store"
        assert "<script" not in r.text and "style=" not in r.text  # nothing inline for the CSP to block
        r = await browser.post("/logout", data={"csrf_token": form_token(r.text)})
        assert (r.status_code, r.headers["location"]) == (303, "/login")
        r = await browser.get("/desk")
        assert (r.status_code, r.headers["location"]) == (303, "/login")
    actions = [(e.actor, e.role, e.action, e.outcome, e.address) for e in reversed(web.services.audit.recent())]
    assert actions == [("ayse", "agent", "login", "ok", "127.0.0.1"), ("ayse", "agent", "logout", "ok", "127.0.0.1")]


async def test_a_logged_out_session_cannot_be_reused(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        stolen = browser.cookies["ctigw_session"]
        desk = await browser.get("/desk")
        await browser.post("/logout", headers={"X-CSRF-Token": form_token(desk.text)})
    async with client(web) as thief:
        thief.cookies.set("ctigw_session", stolen)
        r = await thief.get("/desk")
        assert (r.status_code, r.headers["location"]) == (303, "/login")


async def test_a_forged_session_cookie_is_refused(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        real = browser.cookies["ctigw_session"]
        browser.cookies.clear()
        for forged in (secrets.token_urlsafe(32), real[:-1] + ("A" if real[-1] != "A" else "B"), "", "../../etc",
                       "%C3%A9" * 10, "a" * 500):
            browser.cookies.set("ctigw_session", forged)
            r = await browser.get("/desk")
            assert (r.status_code, r.headers.get("location")) == (303, "/login"), forged


async def test_a_session_ends_when_idle_too_long(start):
    web = await start(idle=1)
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        assert (await browser.get("/desk")).status_code == 200
        await asyncio.sleep(0.6)
        assert (await browser.get("/desk")).status_code == 200  # each request restarts the idle clock
        await asyncio.sleep(1.3)
        r = await browser.get("/desk")
        assert (r.status_code, r.headers["location"]) == (303, "/login")


async def test_a_session_ends_at_its_absolute_expiry_however_busy(start):
    web = await start(idle=60, absolute=1.5)
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        for _ in range(3):
            assert (await browser.get("/desk")).status_code == 200
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.8)
        assert (await browser.get("/desk")).status_code == 303


async def test_state_changes_with_a_session_need_its_csrf_token(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        token = form_token((await browser.get("/desk")).text)
        for attempt in ({}, {"data": {"csrf_token": "wrong"}}, {"headers": {"X-CSRF-Token": "wrong"}},
                        {"headers": {"X-CSRF-Token": ""}}):
            r = await browser.post("/logout", **attempt)
            assert r.status_code == 403 and r.json() == {"error": "missing or wrong CSRF token"}, attempt
        assert (await browser.get("/desk")).status_code == 200  # still signed in
        r = await browser.post("/logout", headers={"X-CSRF-Token": token})
        assert r.status_code == 303
    assert [e.action for e in web.services.audit.recent()] == ["logout", "login"]


async def test_the_login_form_has_a_csrf_token_of_its_own(web):
    add_accounts(web)
    async with client(web) as browser:
        r = await browser.post("/login", data={"username": "ayse", "password": PASSWORD})
        assert r.status_code == 403 and "ctigw_session" not in browser.cookies
        await browser.get("/login")
        r = await browser.post("/login", data={"username": "ayse", "password": PASSWORD, "csrf_token": "forged"})
        assert r.status_code == 403 and "ctigw_session" not in browser.cookies


async def test_repeated_failed_sign_ins_are_throttled(web):
    add_accounts(web)
    async with client(web) as browser:
        for _ in range(5):
            r = await sign_in(browser, "ayse", "wrong password")
            assert r.status_code == 401 and "Kullanıcı adı veya parola yanlış." in r.text
        r = await sign_in(browser, "ayse")  # the right password, too late
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "ctigw_session" not in browser.cookies
        # The address is locked too: another name from it waits as well.
        assert (await sign_in(browser, "emily")).status_code == 429
    outcomes = [(e.actor, e.outcome) for e in reversed(web.services.audit.recent())]
    assert outcomes == [("ayse", "failed")] * 5 + [("ayse", "throttled"), ("emily", "throttled")]


async def test_a_lockout_runs_out_and_a_success_clears_the_count(start):
    web = await start(failures=2, lockout=1)
    add_accounts(web)
    async with client(web) as browser:
        for _ in range(2):
            assert (await sign_in(browser, "ayse", "nope-nope")).status_code == 401
        assert (await sign_in(browser, "ayse")).status_code == 429
        await asyncio.sleep(1.2)
        assert (await sign_in(browser, "ayse")).status_code == 303


async def test_a_disabled_account_cannot_sign_in(web):
    add_accounts(web)
    web.services.accounts.set_disabled("emily")
    async with client(web) as browser:
        r = await sign_in(browser, "emily", **{"Accept-Language": "en"})
        assert r.status_code == 403 and "This account is disabled." in r.text
        assert "ctigw_session" not in browser.cookies
        r = await sign_in(browser, "emily", "a wrong password", **{"Accept-Language": "en"})
        assert r.status_code == 401 and "Wrong username or password." in r.text  # nothing told without it
    assert web.services.audit.recent()[-1].outcome == "disabled"


async def test_disabling_an_account_ends_its_sessions(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")
        assert (await browser.get("/desk")).status_code == 200
        assert await web.services.sessions.end_all("ayse") == 1
        assert (await browser.get("/desk")).status_code == 303


async def test_the_desk_is_for_agents_and_supervisors_only(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "root")
        r = await browser.get("/desk")
        assert r.status_code == 403 and r.json() == {"error": "not allowed for your role"}
    async with client(web) as browser:
        await sign_in(browser, "selin")
        r = await browser.get("/desk")
        assert r.status_code == 200 and "süpervizör" in r.text and "billing" in r.text


async def test_pages_speak_the_accounts_language_or_the_browsers(web):
    add_accounts(web)
    async with client(web) as browser:
        assert "Giriş yap" in (await browser.get("/login", headers={"Accept-Language": "tr-TR,tr;q=0.9"})).text
        r = await browser.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
        assert "Sign in" in r.text and '<html lang="en">' in r.text
        await sign_in(browser, "emily", **{"Accept-Language": "tr"})
        r = await browser.get("/desk", headers={"Accept-Language": "tr"})
        assert "Agent desktop" in r.text and "Rebecca Lawson" in r.text  # her account says English
    async with client(web) as browser:
        await sign_in(browser, "ayse", **{"Accept-Language": "en"})
        r = await browser.get("/desk", headers={"Accept-Language": "en"})
        assert "Temsilci masası" in r.text and "Çıkış yap" in r.text


async def test_text_from_accounts_is_escaped(web):
    web.services.accounts.add("mallory", PASSWORD, role="agent", agent_id="1002",
                              display_name="<script>alert(1)</script>")
    async with client(web) as browser:
        await sign_in(browser, "mallory")
        r = await browser.get("/desk")
        assert "<script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


async def test_the_root_leads_to_the_desk_and_static_files_are_served(web):
    async with client(web) as browser:
        r = await browser.get("/")
        assert (r.status_code, r.headers["location"]) == (303, "/desk")
        r = await browser.get("/static/web/app.css")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
        assert r.headers["content-security-policy"] == CSP


async def test_a_person_switches_their_own_language_and_keeps_it_at_the_next_sign_in(web):
    add_accounts(web)
    async with client(web) as browser:
        await sign_in(browser, "ayse")  # a Turkish account
        desk = await browser.get("/desk")
        assert "Çıkış yap" in desk.text and 'value="tr" id="lang-tr" lang="tr" aria-pressed="true"' in desk.text
        token = form_token(desk.text)
        r = await browser.post("/account/language", data={"csrf_token": token, "locale": "de", "next": "/desk"})
        assert r.status_code == 400
        r = await browser.post("/account/language", data={"locale": "en", "next": "/desk"})
        assert r.status_code == 403  # no CSRF token
        r = await browser.post("/account/language", data={"csrf_token": token, "locale": "en",
                                                          "next": "//evil.example/desk"})
        assert (r.status_code, r.headers["location"]) == (303, "/desk")  # never off the site
        desk = await browser.get("/desk")
        assert "Sign out" in desk.text and "Çıkış yap" not in desk.text
    assert web.services.accounts.get("ayse").locale == "en"
    async with client(web) as browser:  # a new sign-in speaks English from the start
        await sign_in(browser, "ayse")
        assert "Sign out" in (await browser.get("/desk")).text
    changes = [(e.action, e.target, e.outcome) for e in reversed(web.services.audit.recent())
               if e.action == "account.language"]
    assert changes == [("account.language", "de", "refused: unknown locale"), ("account.language", "en", "ok")]
