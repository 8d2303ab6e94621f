"""The rig itself, end to end: the real Asterisk 22 with telephony_conf/, pjsua2 phones, AMI.

These pin the dialplan contract the gateway relies on (extensions.conf) without the gateway:
a bare asyncio FastAGI peer stands in for it where a test needs one.
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import socket

import pytest

from gateway.rig.ami_probe import AmiProbe
from gateway.rig.phones import PhoneError
from waiting import wait_until


def _caller() -> str:
    """A caller number unique to the test, to find its channel in AMI events."""
    return f"+90532{random.randrange(10**7):07d}"


def _agi_port_free(asterisk) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((asterisk.agi_host, asterisk.agi_port))
        except OSError:
            return False
    return True


class AgiPeer:
    """A minimal FastAGI server on the rig's AGI port: reads the agi_* block, runs `script`
    (a list of AGI command lines) and records the environment and every reply."""

    def __init__(self, asterisk, script: list[str]):
        self.host, self.port = asterisk.agi_host, asterisk.agi_port
        self.script = script
        self.env: dict[str, str] = {}
        self.replies: list[str] = []
        self.done = asyncio.Event()
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> "AgiPeer":
        self.server = await asyncio.start_server(self._session, self.host, self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = (await reader.readline()).decode().rstrip("\n")
                if not line:
                    break
                key, _, value = line.partition(":")
                self.env[key.strip()] = value.strip()
            for command in self.script:
                writer.write(command.encode() + b"\n")
                await writer.drain()
                reply = (await reader.readline()).decode().strip()
                self.replies.append(reply)
                if reply.startswith("HANGUP") or not reply:
                    break
        finally:
            writer.close()
            self.done.set()


# --------------------------------------------------------------------------- configuration
def test_configuration_is_loaded(asterisk):
    dialplan = asterisk.cli("dialplan show")
    for context in ("ctigw-inbound", "ctigw-fallback", "ctigw-hold", "ctigw-connect", "ctigw-agents",
                    "ctigw-outbound"):
        assert f"Context '{context}'" in dialplan
    assert f"agi://{asterisk.agi_host}:{asterisk.agi_port}/inbound?dnis=" in dialplan

    endpoints = asterisk.cli("pjsip show endpoints")
    names = {line.split()[1] for line in endpoints.splitlines() if line.strip().startswith("Endpoint:")}
    assert {"carrier", "pstn", *(str(n) for n in range(1001, 1021))} <= names

    user = asterisk.cli(f"manager show user {asterisk.ami_username}")
    read = next(line for line in user.splitlines() if "read perm" in line).split(":", 1)[1]
    write = next(line for line in user.splitlines() if "write perm" in line).split(":", 1)[1]
    assert set(read.strip().split(",")) == {"call", "dialplan", "agent", "user", "reporting"}
    assert set(write.strip().split(",")) == {"call", "reporting", "user", "originate"}  # originate: click-to-dial

    assert "ctigw-fallback" in asterisk.cli("queue show ctigw-fallback")
    assert "Class: default" in asterisk.cli("moh show classes")


async def test_ami_login_is_least_privilege(asterisk, ami_probe):
    """The gateway's actions work; what it needs no right for (a CLI command, an Originate that
    runs a shell) is refused."""
    assert ami_probe.banner.startswith("Asterisk Call Manager/")
    assert (await ami_probe.action("Ping"))[0]["Response"] == "Success"
    assert (await ami_probe.action("CoreShowChannels"))[0]["Response"] == "Success"
    assert (await ami_probe.action("UserEvent", UserEvent="CtigwRigProbe"))[0]["Response"] == "Success"
    refused = (await ami_probe.action("Command", Command="core show version"))[0]
    assert refused["Response"] == "Error" and "Permission denied" in refused["Message"]
    shell = (await ami_probe.action("Originate", Channel="Local/100@ctigw-inbound", Application="System",
                                    Data="touch /tmp/ctigw-owned"))[0]
    assert shell["Response"] == "Error" and "Forbidden" in shell["Message"]
    with pytest.raises(Exception):
        await AmiProbe(asterisk.ami_host, asterisk.ami_port, asterisk.ami_username, "wrong-secret").connect()


# --------------------------------------------------------------------------- gateway down
async def test_gateway_down_caller_lands_in_fallback_queue(asterisk, phones, ami_probe):
    assert _agi_port_free(asterisk), "something listens on the AGI port: the 'gateway down' premise fails"
    number = _caller()
    call = await phones.call(number="100", caller_id=number)
    await call.wait_state("confirmed", timeout=10)
    joined = await ami_probe.wait_event("QueueCallerJoin", timeout=10, Queue="ctigw-fallback",
                                        CallerIDNum=number)
    queue = await asterisk.acli("queue show ctigw-fallback")
    assert joined["Channel"] in queue
    # QueueStatus (no class needed) lists the waiting caller too.
    status = await ami_probe.action("QueueStatus", Queue="ctigw-fallback")
    assert any(f.get("Event") == "QueueEntry" and f.get("CallerIDNum") == number for f in status)
    # The caller is held (music), not dropped: still up a moment later.
    await asyncio.sleep(1.0)
    assert call.state == "confirmed"
    await call.hangup()
    await call.wait_ended(timeout=5)
    await ami_probe.wait_event("QueueCallerAbandon", timeout=5, Queue="ctigw-fallback", Uniqueid=joined["Uniqueid"])


async def test_withheld_number_is_accepted_from_the_carrier(asterisk, phones, ami_probe):
    assert _agi_port_free(asterisk)
    call = await phones.call(number="100", caller_id="anonymous")
    await call.wait_state("confirmed", timeout=10)
    joined = await ami_probe.wait_event("QueueCallerJoin", timeout=10, Queue="ctigw-fallback")
    assert joined["CallerIDNum"] == "anonymous"
    await call.hangup()
    await call.wait_ended(timeout=5)


# --------------------------------------------------------------------------- agent phones
async def test_agent_phone_registers_and_unregisters(asterisk, phones):
    agent = await phones.register_agent("1017", answer_after=1.0)
    assert agent.registered
    contacts = await asterisk.acli("pjsip show contacts")
    assert "1017/sip:1017@127.0.0.1" in contacts
    await agent.unregister()
    await wait_until(lambda: _no_contact(asterisk, "1017"), 5, "the contact of 1017 to go")


async def _no_contact(asterisk, aor: str) -> bool:
    return f"{aor}/sip:" not in await asterisk.acli("pjsip show contacts")


async def test_agent_with_wrong_password_is_refused(asterisk, phones):
    with pytest.raises(PhoneError, match="registration failed: 401"):
        await phones.register_agent("1018", secret="not-the-secret", timeout=10)
    assert "1018/sip:" not in await asterisk.acli("pjsip show contacts")


# --------------------------------------------------------------------------- DTMF and the AGI
STAND_IN = "rigtest"  # these tests stand in for the gateway that owns the calls they park


async def _stand_in_is_alive(ami_probe) -> None:
    """What a gateway keeps fresh for [ctigw-hold]: its liveness mark, here an hour ahead of
    Asterisk's clock so the held callers stay for the whole test."""
    [reply] = await ami_probe.action("Getvar", Variable="EPOCH")
    await ami_probe.action("Setvar", Variable=f"CTIGW_LIVE_{STAND_IN}", Value=str(int(reply["Value"]) + 3600))


async def test_dtmf_reaches_fastagi_and_the_verdict_reaches_ami(asterisk, phones, ami_probe):
    """Digits pressed by a pjsua2 caller come back from WAIT FOR DIGIT; the variables the AGI
    sets drive the dialplan (queue -> ctigw-hold) and show up as AMI VarSet events."""
    number = _caller()
    await _stand_in_is_alive(ami_probe)
    script = ["WAIT FOR DIGIT 5000"] * 3 + ['SET VARIABLE CTIGW_RESULT "queued:test"',
                                            f"SET VARIABLE CTIGW_OWNER {STAND_IN}", "SET VARIABLE CTIGW_NEXT queue"]
    async with AgiPeer(asterisk, script) as agi:
        call = await phones.call(number="100", caller_id=number, digits="42#", digit_gap=0.3, digits_after=0.5)
        await call.wait_state("confirmed", timeout=10)
        await asyncio.wait_for(agi.done.wait(), 20)
    assert agi.replies[:3] == ["200 result=52", "200 result=50", "200 result=35"], agi.replies
    assert agi.env["agi_network_script"] == "inbound?dnis=100"
    assert agi.env["agi_callerid"] == number
    assert agi.env["agi_context"] == "ctigw-inbound"
    saw = await ami_probe.wait_event("VarSet", timeout=10, Variable="CTIGW_DIALPLAN_SAW", Value="queued:test")
    await ami_probe.wait_event("Newexten", timeout=10, Uniqueid=saw["Uniqueid"], Context="ctigw-hold",
                               Application="MusicOnHold")
    assert call.state == "confirmed"
    await call.hangup()
    await call.wait_ended(timeout=5)


async def test_plus_dnis_reaches_the_gateway_intact(asterisk, phones, ami_probe):
    async with AgiPeer(asterisk, ["SET VARIABLE CTIGW_NEXT hangup"]) as agi:
        call = await phones.call(number="+908501234567", caller_id=_caller())
        await asyncio.wait_for(agi.done.wait(), 10)
        await call.wait_ended(timeout=10)  # CTIGW_NEXT neither queue nor fallback: hung up
    assert agi.env["agi_network_script"] == "inbound?dnis=%2B908501234567"
    await ami_probe.wait_event("VarSet", timeout=5, Variable="CTIGW_DNIS", Value="+908501234567")


async def test_agi_fallback_verdict_goes_to_the_queue(asterisk, phones, ami_probe):
    number = _caller()
    async with AgiPeer(asterisk, ["SET VARIABLE CTIGW_NEXT fallback"]) as agi:
        call = await phones.call(number="100", caller_id=number)
        await asyncio.wait_for(agi.done.wait(), 10)
        await ami_probe.wait_event("QueueCallerJoin", timeout=10, Queue="ctigw-fallback", CallerIDNum=number)
    await call.hangup()
    await call.wait_ended(timeout=5)


# --------------------------------------------------------------------------- connect to an agent
async def _held_caller(asterisk, phones, ami_probe):
    """A caller parked in ctigw-hold by the AGI (as the gateway's IVR does); returns (call, channel)."""
    number = _caller()
    await _stand_in_is_alive(ami_probe)
    async with AgiPeer(asterisk, [f"SET VARIABLE CTIGW_OWNER {STAND_IN}", "SET VARIABLE CTIGW_NEXT queue"]) as agi:
        call = await phones.call(number="100", caller_id=number)
        await asyncio.wait_for(agi.done.wait(), 10)
    held = await ami_probe.wait_event("Newexten", timeout=10, Context="ctigw-hold", Application="MusicOnHold",
                                      CallerIDNum=number)
    return call, held


async def test_redirect_to_connect_rings_the_agent_and_bridges(asterisk, phones, ami_probe):
    agent = await phones.register_agent("1002", answer_after=0.5)
    call, held = await _held_caller(asterisk, phones, ami_probe)
    mark = len(ami_probe.events)
    reply = await ami_probe.action("Redirect", Channel=held["Channel"], Context="ctigw-connect", Exten="1002",
                                   Priority=1)
    assert reply[0]["Response"] == "Success", reply
    ring = await agent.wait_ringing(timeout=10)
    assert call.caller_id.lstrip("+") in ring["from"]
    await agent.wait_answered(timeout=10)
    await ami_probe.wait_event("DialEnd", timeout=10, start=mark, Uniqueid=held["Uniqueid"], DialStatus="ANSWER")
    await ami_probe.wait_event("BridgeEnter", timeout=10, start=mark, Uniqueid=held["Uniqueid"])
    assert agent.calls_answered == 1
    await agent.hangup()  # the agent hangs up: the caller's call ends too
    await agent.wait_call_ended(timeout=5)
    await call.wait_ended(timeout=10)


async def test_unanswered_agent_sends_the_caller_back_to_hold(asterisk, phones, ami_probe):
    agent = await phones.register_agent("1003", answer_after=None)  # rings, never answers
    call, held = await _held_caller(asterisk, phones, ami_probe)
    mark = len(ami_probe.events)
    for action, fields in (("Setvar", dict(Channel=held["Channel"], Variable="CTIGW_RING_TIMEOUT", Value="2")),
                           ("Redirect", dict(Channel=held["Channel"], Context="ctigw-connect", Exten="1003",
                                             Priority=1))):
        reply = await ami_probe.action(action, **fields)
        assert reply[0]["Response"] == "Success", reply
    await agent.wait_ringing(timeout=10)
    end = await ami_probe.wait_event("DialEnd", timeout=10, start=mark, Uniqueid=held["Uniqueid"])
    assert end["DialStatus"] == "NOANSWER"
    await ami_probe.wait_event("VarSet", timeout=5, start=mark, Uniqueid=held["Uniqueid"],
                               Variable="CTIGW_DIALSTATUS", Value="NOANSWER")
    await ami_probe.wait_event("Newexten", timeout=5, start=mark, Uniqueid=held["Uniqueid"], Context="ctigw-hold",
                               Application="MusicOnHold")
    await agent.wait_call_ended(timeout=5)  # Asterisk cancelled the ringing
    assert agent.calls_answered == 0
    assert call.state == "confirmed"  # the caller is still there, on music
    await call.hangup()
    await call.wait_ended(timeout=5)
    with contextlib.suppress(Exception):
        await agent.unregister()
