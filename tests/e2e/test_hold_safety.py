"""No caller is left on hold without a way out (issue 11): the gateway runs as its own process
(`ctigw run`), is killed with SIGKILL while callers wait in [ctigw-hold], and the dialplan,
not the gateway, gets them out; a gateway restarted within the grace adopts its waiting
callers again, in their original order."""
from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from gateway_harness import REDIS_URL, crm_db, prompts, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

# Straight to the general queue: no prompts, no business hours (the process uses the real clock).
DIRECT_FLOW = """
flow: main
start: to_agent
languages: [en]
nodes:
  to_agent:
    type: route
    queue: general
    skills: [general]
    priority: 1
"""


def new_number() -> str:
    return f"+90555{random.randrange(10**7):07d}"


class GatewayProcess:
    """`ctigw run` in a child process, configured through CTIGW_* environment overrides."""

    def __init__(self, asterisk, tmp_path: Path, crm_path: Path, *, grace: int, slice_seconds: int):
        flows = tmp_path / "flows"
        flows.mkdir(exist_ok=True)
        (flows / "main.yaml").write_text(DIRECT_FLOW)
        self.key_prefix = f"ctigw-e2e-{secrets.token_hex(4)}"
        self.log_path = tmp_path / "gateway.log"
        self.env = {
            **os.environ,
            "CTIGW_GATEWAY_STATE_DIR": str(tmp_path / "state"),
            "CTIGW_AMI_HOST": asterisk.ami_host, "CTIGW_AMI_PORT": str(asterisk.ami_port),
            "CTIGW_AMI_USERNAME": asterisk.ami_username, "CTIGW_AMI_SECRET": asterisk.ami_secret,
            "CTIGW_AGI_BIND": asterisk.agi_host, "CTIGW_AGI_PORT": str(asterisk.agi_port),
            "CTIGW_REDIS_URL": REDIS_URL, "CTIGW_REDIS_KEY_PREFIX": self.key_prefix,
            "CTIGW_CRM_URL": f"sqlite:///{crm_path}",
            "CTIGW_IVR_FLOWS_DIR": str(flows), "CTIGW_IVR_MAIN_FLOW": "main",
            "CTIGW_ACD_RING_TIMEOUT": "6", "CTIGW_ACD_WRAPUP_SECONDS": "2",
            "CTIGW_ACD_HOLD_GRACE": str(grace), "CTIGW_ACD_HOLD_SLICE": str(slice_seconds),
            "CTIGW_HTTP_TOKEN_SECRET": "",
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "run"], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        log.close()

    async def wait_ready(self, probe, timeout: float = 30) -> None:
        """Ready: this run resynced from AMI and stamped a fresh liveness mark in Asterisk."""
        started = int(time.time())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the gateway exited:\n{self.log_path.read_text()[-3000:]}"
            if self.log_path.read_text().count("resync after AMI (re)connect") >= self.starts:
                [reply] = await probe.action("Getvar", Variable="CTIGW_LIVE_gw1")
                if (reply.get("Value") or "0").isdigit() and int(reply.get("Value") or 0) >= started - 1:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"gateway not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_in(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "acd", "login", agent_id],
                                  env=self.env, capture_output=True, text=True, timeout=60, cwd=REPO)
            assert done.returncode == 0, done.stdout + done.stderr

    def cleanup(self) -> None:
        self.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{self.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def gateway_process(asterisk, prompts, crm_db, tmp_path):
    gw = GatewayProcess(asterisk, tmp_path, crm_db, grace=6, slice_seconds=2)
    try:
        yield gw
    finally:
        gw.cleanup()


def events(probe, name: str, **fields) -> list[dict]:
    return [e for e in probe.events if e.get("Event") == name and all(e.get(k) == v for k, v in fields.items())]


async def on_hold(probe, number: str, timeout: float = 20) -> dict:
    """The caller's channel once the dialplan holds it for the gateway (its owner set)."""
    def found():
        for e in events(probe, "VarSet", Variable="CTIGW_OWNER"):
            if e.get("CallerIDNum") == number.lstrip("+") or e.get("CallerIDNum") == number:
                if events(probe, "MusicOnHoldStart", Uniqueid=e.get("Uniqueid")):
                    return e
        return None

    return await wait_for(found, timeout, f"{number} on hold")


def activity_rows(crm_path: Path, linkedids) -> list[dict]:
    with sqlite3.connect(crm_path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM activities ORDER BY started_at")
        return [dict(r) for r in rows if r["linkedid"] in linkedids]


async def test_a_killed_gateway_leaves_no_caller_on_hold(gateway_process, asterisk, phones, ami_probe):
    gw = gateway_process
    fallback_agent = await phones.register_agent("1005", answer_after=1.0)  # a fallback queue member
    gw.start()
    await gw.wait_ready(ami_probe)
    number = new_number()
    call = await phones.call("100", caller_id=number)
    held = await on_hold(ami_probe, number)
    await asyncio.sleep(3)  # waiting, music playing, the gateway alive: nothing moves
    assert not events(ami_probe, "QueueCallerJoin", Uniqueid=held["Uniqueid"])

    gw.kill()
    killed_at = time.monotonic()
    joined = await wait_for(lambda: events(ami_probe, "QueueCallerJoin", Uniqueid=held["Uniqueid"]), 20,
                            "the caller in the fallback queue")
    waited = time.monotonic() - killed_at
    assert joined[0]["Queue"] == "ctigw-fallback"
    assert waited <= 6 + 2 + 2, f"the caller waited {waited:.1f}s after the kill (grace 6 s, slice 2 s)"
    assert events(ami_probe, "VarSet", Uniqueid=held["Uniqueid"], Variable="CTIGW_ORPHANED")
    await fallback_agent.wait_answered(20)
    await call.wait_state("confirmed")
    assert call.state != "disconnected"
    await call.hangup()


async def test_a_restarted_gateway_serves_its_waiting_callers_in_their_original_order(
        gateway_process, asterisk, phones, ami_probe, crm_db):
    gw = gateway_process
    gw.env["CTIGW_ACD_HOLD_GRACE"] = "20"  # the restart must fit in the grace
    agent = await phones.register_agent("1003", answer_after=1.0)
    gw.start()
    await gw.wait_ready(ami_probe)
    first, second = new_number(), new_number()
    first_call = await phones.call("100", caller_id=first)
    first_held = await on_hold(ami_probe, first)
    second_call = await phones.call("100", caller_id=second)
    second_held = await on_hold(ami_probe, second)

    gw.kill()
    gw.start()
    await gw.wait_ready(ami_probe)
    gw.log_in("1003")  # the only agent: it takes them one after the other

    await agent.wait_answered(20)
    bridged = await wait_for(lambda: events(ami_probe, "BridgeEnter", Uniqueid=first_held["Uniqueid"]), 10,
                             "the first caller connected")
    assert not events(ami_probe, "BridgeEnter", Uniqueid=second_held["Uniqueid"]), "served out of order"
    assert bridged
    await asyncio.sleep(1)
    await first_call.hangup()
    await agent.wait_answered(30)  # after its wrap-up, the agent gets the second caller
    await wait_for(lambda: events(ami_probe, "BridgeEnter", Uniqueid=second_held["Uniqueid"]), 10,
                   "the second caller connected")
    for held in (first_held, second_held):
        assert not events(ami_probe, "QueueCallerJoin", Uniqueid=held["Uniqueid"]), "fell back instead"
    await asyncio.sleep(1)
    await second_call.hangup()
    linkedids = {first_held["Linkedid"], second_held["Linkedid"]}
    rows = await wait_for(lambda: len(r := activity_rows(crm_db, linkedids)) >= 2 and r, 20, "two activities")
    await asyncio.sleep(1)
    assert len(activity_rows(crm_db, linkedids)) == 2, "one activity per call"
    assert all(r["outcome"] == "answered" and r["agent_id"] == "1003" for r in rows)
