"""The caller is never dropped because of the gateway: what Asterisk 22 really does when a
prompt is missing, and when the gateway closes a call without a verdict."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from gateway.agi.server import FastAgiServer
from gateway_harness import crm_db, ended_call, gateway, live_call, prompts, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

MISSING_PROMPT_FLOW = """
flow: missing_prompt
start: hello
languages: [tr]
nodes:
  hello:
    type: play
    prompt: [ctigw/no_such_recording, beep]
    next: to_agent
  to_agent:
    type: route
    queue: general
    skills: [general]
    priority: 1
"""


@pytest.fixture
def flows_with_a_missing_prompt(rig_settings, tmp_path):
    """The example flows plus one whose first prompt has no sound file (set before `gateway`)."""
    target = tmp_path / "flows"
    shutil.copytree(REPO / "ivr_flows", target)
    (target / "missing_prompt.yaml").write_text(MISSING_PROMPT_FLOW)
    rig_settings.ivr.flows_dir = str(target)
    return target


async def test_a_missing_prompt_is_skipped_and_the_call_still_reaches_the_queue(flows_with_a_missing_prompt, gateway,
                                                                               phones, ami_probe):
    gw = gateway
    gw.flow_by_dnis["100"] = "missing_prompt"
    number = f"+90555{random.randrange(10**7):07d}"
    call = await phones.call("100", caller_id=number)
    waiting = await wait_for(lambda: (c := live_call(gw, number)) and c.queue and c, 20, "queued")
    assert waiting.ivr_path == ["hello", "to_agent"]
    # Asterisk set AGISTATUS=FAILURE for the failed playback, yet the dialplan followed the
    # gateway's verdict: the caller waits in the hold context, not in the fallback queue.
    await wait_for(lambda: [e for e in ami_probe.events if e.get("Event") == "MusicOnHoldStart"
                            and e.get("Uniqueid") == waiting.caller_uniqueid], 10, "music on hold")
    assert not [e for e in ami_probe.events if e.get("Event") == "QueueCallerJoin"
                and e.get("Uniqueid") == waiting.caller_uniqueid]
    await call.hangup()
    await ended_call(gw, number)


async def test_a_gateway_that_closes_without_a_verdict_sends_the_caller_to_the_fallback_queue(
        asterisk, phones, ami_probe):
    async def gives_up(session):
        return  # no CTIGW_NEXT: Asterisk reports AGISTATUS=SUCCESS all the same

    server = FastAgiServer({"inbound": gives_up}, allowed_hosts=["127.0.0.1"])
    server.listen(asterisk.agi_port, asterisk.agi_host)
    try:
        call = await phones.call("100", caller_id="+905551112233")
        await wait_for(lambda: [e for e in ami_probe.events if e.get("Event") == "QueueCallerJoin"
                                and e.get("Queue") == "ctigw-fallback"], 15, "the caller in ctigw-fallback")
        assert call.state != "disconnected"
        await call.hangup()
    finally:
        await server.stop()
