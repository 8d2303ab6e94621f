"""Issue #2 end to end: the gateway's own AMI client and FastAGI server against the real
Asterisk 22, with pjsua2 callers pressing real DTMF (RFC 4733)."""
from __future__ import annotations

import asyncio

from gateway.agi.server import FastAgiServer
from gateway.ami.client import AmiClient

CALLER = "+905321234567"


async def until(predicate, timeout: float, what: str):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class DigitReader:
    """The FastAGI handler under test: plays a prompt, reads three keys the caller presses
    (the first may interrupt the prompt), and hands them to the dialplan in CTIGW_RESULT."""

    def __init__(self):
        self.sessions: list[tuple[str, str, str]] = []  # (caller id, uniqueid, digits)

    async def __call__(self, session) -> None:
        digits = await session.stream_file("beep", escape_digits="0123456789*#")
        while len(digits) < 3:
            key = await session.wait_for_digit(5000)
            if not key:
                break
            digits += key
        self.sessions.append((session.env.callerid, session.env.uniqueid, digits))
        await session.set_variable("CTIGW_RESULT", digits)
        await session.set_variable("CTIGW_NEXT", "hangup")


def start_ami(asterisk, **kwargs) -> AmiClient:
    client = AmiClient(asterisk.ami_host, asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret, **kwargs)
    client.start()
    return client


async def place_call_and_wait(phones, digits: str = "42#") -> None:
    call = await phones.call("100", caller_id=CALLER, digits=digits, digits_after=0.5, digit_gap=0.2)
    await call.wait_ended(30)


async def test_twenty_calls_in_a_row_deliver_caller_id_and_digits_and_the_dialplan_echoes_them(asterisk, phones):
    ami = start_ami(asterisk)
    dialplan_saw: dict[str, str] = {}

    def on_varset(event):
        if event.get("Variable") == "CTIGW_DIALPLAN_SAW":
            dialplan_saw[event.get("Uniqueid")] = event.get("Value")

    ami.on("VarSet", on_varset)
    handler = DigitReader()
    server = FastAgiServer({"inbound": handler}, allowed_hosts=["127.0.0.1"])
    server.listen(asterisk.agi_port, asterisk.agi_host)
    try:
        await ami.wait_connected(15)
        for _ in range(20):
            await place_call_and_wait(phones)
        await until(lambda: len(dialplan_saw) >= 20, 10, "20 VarSet events from the dialplan")
    finally:
        await server.stop()
        await ami.stop()
    assert len(handler.sessions) == 20
    assert {(caller, digits) for caller, _, digits in handler.sessions} == {(CALLER, "42#")}
    for _, uniqueid, digits in handler.sessions:
        assert dialplan_saw[uniqueid] == digits


async def test_asterisk_restart_reconnects_ami_runs_the_resync_hook_and_the_next_call_works(asterisk, phones):
    ami = start_ami(asterisk, reconnect_initial=0.2, reconnect_max=2.0)
    resyncs: list[int] = []

    async def resync():
        _, channels = await ami.action_list("CoreShowChannels")
        resyncs.append(len(channels))

    ami.on_connected(resync)
    handler = DigitReader()
    server = FastAgiServer({"inbound": handler}, allowed_hosts=["127.0.0.1"])
    server.listen(asterisk.agi_port, asterisk.agi_host)
    try:
        await until(lambda: len(resyncs) == 1, 15, "the first resync")
        await asyncio.to_thread(asterisk.restart)
        await until(lambda: len(resyncs) == 2, 30, "a resync after Asterisk came back")
        assert ami.connected
        await place_call_and_wait(phones, "7*9")
        assert [digits for _, _, digits in handler.sessions] == ["7*9"]
        response = await ami.action("Ping")
        assert response.get("Response") == "Success"
    finally:
        await server.stop()
        await ami.stop()
