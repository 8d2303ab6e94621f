"""WebSockets on the same application: a feature's socket gets the signed-in session, and a
handshake without one, from another site's page, or after sign-out is refused."""
import httpx
import pytest
from fastapi import APIRouter, Depends, WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.web.app import default_routers
from gateway.web.deps import require_socket_role
from web_testing import add_accounts, form_token, sign_in

feature = APIRouter()


@feature.websocket("/test/hello")
async def hello(websocket: WebSocket, session=Depends(require_socket_role("agent"))):
    await websocket.accept()
    await websocket.send_json({"username": session.username, "agent_id": session.agent_id})
    await websocket.close()


@pytest.fixture
async def web(start):
    return await start(routers=[*default_routers(), feature])


async def hello_as(web, cookie: str | None, origin: str | None):
    headers = {"Cookie": f"ctigw_session={cookie}"} if cookie else {}
    async with connect(f"ws://127.0.0.1:{web.port}/test/hello", additional_headers=headers, origin=origin,
                       open_timeout=5) as socket:
        return await socket.recv()


async def test_a_signed_in_agents_page_opens_a_socket_and_others_cannot(web):
    add_accounts(web)
    async with httpx.AsyncClient(base_url=web.url, follow_redirects=False) as browser:
        await sign_in(browser, "ayse")
        cookie = browser.cookies["ctigw_session"]
        assert await hello_as(web, cookie, web.url) == '{"username":"ayse","agent_id":"1001"}'
        for who, origin in ((None, web.url), (cookie, "http://evil.example"), (cookie, None),
                            ("forged-" + cookie[7:], web.url)):
            with pytest.raises(InvalidStatus) as refused:
                await hello_as(web, who, origin)
            assert refused.value.response.status_code == 403, (who, origin)
        await browser.post("/logout", headers={"X-CSRF-Token": form_token((await browser.get("/desk")).text)})
        with pytest.raises(InvalidStatus):
            await hello_as(web, cookie, web.url)


async def test_a_socket_checks_the_role(web):
    add_accounts(web)
    async with httpx.AsyncClient(base_url=web.url, follow_redirects=False) as browser:
        await sign_in(browser, "selin")
        with pytest.raises(InvalidStatus):
            await hello_as(web, browser.cookies["ctigw_session"], web.url)
