"""The web application for tests: the real app, served by uvicorn on loopback (port 0), over
a real ACD on a real Redis and a migrated SQLite CRM file (accounts, audit log)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from gateway.api.revocations import TokenRevocations
from gateway.crm.migrate import sync_engine, upgrade_database
from gateway.web.accounts import AccountStore
from gateway.web.app import create_app
from gateway.web.audit import AuditLog
from gateway.web.server import WebServer
from gateway.web.services import WebServices
from gateway.web.sessions import SessionStore
from gateway.web.throttle import LoginThrottle

SECRET = "test-secret-" + "x" * 20
# Cheap argon2 parameters: the same code path, a fraction of the production cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@dataclass
class RunningWeb:
    server: WebServer
    services: WebServices
    engine: object

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def stop(self) -> None:
        await self.server.stop()
        self.engine.dispose()


async def start_web(acd, redis, key_prefix: str, db_path: Path, *, secret: str = SECRET, idle: float = 1800,
                    absolute: float = 12 * 3600, failures: int = 5, lockout: float = 60,
                    clock=None, routers=None, **desk) -> RunningWeb:
    """`desk`: the agent desk's services (desk, wrapups, directory, agent_calls), if the test needs them."""
    url = f"sqlite:///{db_path}"
    await asyncio.to_thread(upgrade_database, url)
    engine = sync_engine(url)
    session_kwargs = {"clock": clock} if clock else {}
    services = WebServices(
        acd=acd, accounts=AccountStore(engine, hasher=FAST_HASHER), audit=AuditLog(engine),
        sessions=SessionStore(redis, key_prefix, idle=idle, absolute=absolute, **session_kwargs),
        throttle=LoginThrottle(redis, key_prefix, failures=failures, lockout=lockout),
        revocations=TokenRevocations(redis, key_prefix), token_secret=secret, **desk)
    server = WebServer(create_app(services, routers), grace=1)
    await server.start(0, "127.0.0.1")
    return RunningWeb(server, services, engine)


PASSWORD = "correct horse battery"


def add_accounts(web: RunningWeb) -> None:
    """The accounts the web tests sign in with (all with PASSWORD)."""
    accounts = web.services.accounts
    accounts.add("ayse", PASSWORD, role="agent", agent_id="1001", display_name="Nazlı Yılmaz", locale="tr")
    accounts.add("emily", PASSWORD, role="agent", agent_id="1003", display_name="Rebecca Lawson", locale="en")
    accounts.add("selin", PASSWORD, role="supervisor", teams=("billing",), display_name="Selin Kaya", locale="tr")
    accounts.add("root", PASSWORD, role="admin", display_name="Admin", locale="en")


def form_token(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


async def sign_in(client, username: str, password: str = PASSWORD, **headers):
    """Through the form, as a browser does: GET /login (its CSRF cookie and field), POST it."""
    page = await client.get("/login", headers=headers)
    return await client.post("/login", headers=headers,
                             data={"username": username, "password": password, "csrf_token": form_token(page.text)})
