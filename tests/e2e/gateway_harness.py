"""The whole gateway (gateway.app.Gateway) against the session's real Asterisk.

Fixtures: `prompts` (session: the flows' prompts synthesised and installed in the chroot),
`crm_db` (a SQLite CRM with the demo customers), `gateway` (started Gateway on real Redis,
with its own key prefix), and helpers to wait for calls and read activities back.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
import redis

from gateway.app import Gateway
from waiting import wait_until as wait_for  # noqa: F401  (the e2e tests' name for it)

ISTANBUL = ZoneInfo("Europe/Istanbul")
# A Wednesday, inside the example flow's office hours (Mon-Fri 09:00-18:00 Istanbul).
OFFICE_HOURS = dt.datetime(2026, 11, 25, 11, 0, tzinfo=ISTANBUL)
SUNDAY = dt.datetime(2026, 11, 29, 11, 0, tzinfo=ISTANBUL)
REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def ctigw(*argv: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)
    assert done.returncode == 0, f"ctigw {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def prompts(asterisk, tmp_path_factory):
    out = tmp_path_factory.mktemp("prompts")
    ctigw("prompts", "build", "--out", str(out))
    asterisk.install_prompts(out)
    return out


@pytest.fixture
def crm_db(tmp_path):
    path = tmp_path / "crm.sqlite3"
    env = {"CTIGW_CRM_URL": f"sqlite:///{path}"}
    ctigw("crm", "migrate", env=env)
    ctigw("crm", "demo-data", "--customers", "30", "--no-progress", env=env)
    return path


@pytest.fixture
async def gateway(rig_settings, prompts, request):
    """The started gateway. Its CRM is `crm_db` (SQLite with demo customers) unless the test
    set rig_settings.crm.url first (a fixture listed before this one)."""
    settings = rig_settings
    if not settings.crm.url:
        settings.crm.url = f"sqlite:///{request.getfixturevalue('crm_db')}"
    settings.redis.url = REDIS_URL
    settings.redis.key_prefix = f"ctigw-e2e-{secrets.token_hex(4)}"
    settings.acd.ring_timeout = 6
    settings.acd.wrapup_seconds = 2
    gw = Gateway(settings, ivr_clock=lambda: OFFICE_HOURS)
    await gw.start()
    await gw.ami.wait_connected(15)
    try:
        yield gw
    finally:
        await gw.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{settings.redis.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


async def ended_call(gw, raw_ani: str, timeout: float = 30):
    """The tracker's record of the (last) ended call from this caller number."""
    def find():
        found = [c for c in gw.tracker.ended if c.raw_ani == raw_ani]
        return found[-1] if found else None

    return await wait_for(find, timeout, f"the call from {raw_ani!r} to end")


async def this_call_ended(gw, call, timeout: float = 30):
    """`call` (a live call, e.g. from at_node) once the tracker has ended it."""
    return await wait_for(lambda: call in gw.tracker.ended and call, timeout, f"call {call.linkedid} to end")


def activities(crm_db, linkedid: str) -> list[dict]:
    with sqlite3.connect(crm_db) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM activities WHERE linkedid = ?", (linkedid,)).fetchall()
    out = []
    for row in rows:
        item = dict(row)
        for key in ("ivr_path", "ivr_inputs", "route"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        out.append(item)
    return out


def live_call(gw, raw_ani: str):
    found = [c for c in gw.tracker.calls.values() if c.raw_ani == raw_ani]
    return found[-1] if found else None


async def at_node(gw, raw_ani: str, node: str, timeout: float = 20, settle: float = 0.4):
    """Wait until the caller's IVR reached `node` (the prompt is then playing)."""
    def reached():
        call = live_call(gw, raw_ani)
        return call if call is not None and call.ivr_path and call.ivr_path[-1].endswith(node) else None

    call = await wait_for(reached, timeout, f"{raw_ani} to reach IVR node {node!r}")
    await asyncio.sleep(settle)  # let the prompt start: keys pressed now interrupt it
    return call
