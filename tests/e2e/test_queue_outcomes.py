"""Issue 11 end to end: every relax step does what the queue configuration says, and a caller
is never left on hold because AMI blinked while their agent was being connected."""
from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gateway_harness import (activities, at_node, crm_db, ended_call, gateway, live_call,  # noqa: F401
                             prompts, wait_for)

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"
OUTCOME_AFTER = 4  # seconds in the billing queue before its relax step takes the caller out


def new_number() -> str:
    return f"+90555{random.randrange(10**7):07d}"


async def waiting_billing_caller(gw, phones, number: str):
    """An unknown caller who picks Türkçe, then billing, declines the call-back offer by
    saying nothing, and waits in the queue."""
    call = await phones.call("100", caller_id=number)
    await at_node(gw, number, "language")
    await call.send_digits("1")
    await at_node(gw, number, "main_menu")
    await call.send_digits("1")
    await at_node(gw, number, "offer")  # nobody is logged in: the queue looks long
    waiting = await wait_for(lambda: (c := live_call(gw, number)) and c.queue and c, 30, "queued")
    return call, waiting


def billing_ends_in(outcome: str, rig_settings, tmp_path) -> None:
    """The demo roster and queues, but billing's only relax step is `outcome` after a few
    seconds (before the gateway starts: it reads [acd] roster and the queues beside it)."""
    folder = tmp_path / "agents"
    folder.mkdir()
    shutil.copy(AGENTS_DIR / "roster.yaml", folder / "roster.yaml")
    yaml = YAML()
    queues = yaml.load((AGENTS_DIR / "queues.yaml").read_text())
    queues["queues"]["billing"]["relax"] = [{"after": OUTCOME_AFTER, "outcome": outcome}]
    queues["defaults"]["announce_every_seconds"] = 0  # no announcement racing the relax step
    with open(folder / "queues.yaml", "w") as out:
        yaml.dump(queues, out)
    rig_settings.acd.roster = str(folder / "roster.yaml")


@pytest.fixture
def voicemail_queues(rig_settings, tmp_path):
    billing_ends_in("voicemail", rig_settings, tmp_path)


@pytest.fixture
def callback_queues(rig_settings, tmp_path):
    billing_ends_in("callback", rig_settings, tmp_path)


async def test_a_voicemail_relax_step_records_the_waiting_caller(voicemail_queues, gateway, crm_db, phones,
                                                                 asterisk, ami_probe):
    number = new_number()
    call, waiting = await waiting_billing_caller(gateway, phones, number)

    def recording_started():
        return [e for e in ami_probe.events if e.get("Event") == "Newexten" and e.get("Application") == "Record"
                and e.get("Context") == "ctigw-queue-voicemail" and e.get("Uniqueid") == waiting.caller_uniqueid]

    await wait_for(recording_started, OUTCOME_AFTER + 30, "the caller to be recording a message")
    assert (await gateway.acd.queue_snapshot("billing")).waiting == ()  # out of the queue for good
    await asyncio.sleep(3)  # the caller talks: pjsua2 streams its (null device's) audio into Record
    await call.hangup()
    ended = await ended_call(gateway, number)
    assert ended.outcome() == "voicemail" and ended.queue == "billing"
    recording = ended.ivr_inputs["voicemail"]
    assert recording.startswith("/var/spool/asterisk/ctigw-voicemail/")
    on_host = asterisk.root / recording.lstrip("/")
    # 8 kHz, 16-bit: the message holds the seconds the caller talked (44-byte header aside).
    await wait_for(lambda: on_host.exists() and on_host.stat().st_size > 44 + 16_000 * 2, 10, "the recording")
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "voicemail" and row["queue"] == "billing"
    assert row["ivr_inputs"]["voicemail"] == recording


async def test_a_callback_relax_step_records_a_request_on_the_callers_number(callback_queues, gateway, crm_db,
                                                                             phones, ami_probe):
    number = new_number()
    call, waiting = await waiting_billing_caller(gateway, phones, number)

    def told(application):
        return [e for e in ami_probe.events if e.get("Event") == "Newexten" and e.get("Application") == application
                and e.get("Context") == "ctigw-queue-callback" and e.get("Uniqueid") == waiting.caller_uniqueid]

    said = await wait_for(lambda: told("SayDigits"), OUTCOME_AFTER + 30, "the caller to hear the number")
    assert said[0]["AppData"] == number.lstrip("+")  # the number they will be called back on
    ended = await ended_call(gateway, number, timeout=60)  # the dialplan says goodbye and hangs up
    assert ended.outcome() == "callback" and ended.ivr_inputs["callback_number"] == number
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "callback" and row["ivr_inputs"]["callback_number"] == number
    assert (await gateway.acd.queue_snapshot("billing")).waiting == ()


class AmiLink:
    """A TCP relay between the gateway and Asterisk's AMI that the test can cut: while cut,
    it drops every connection and refuses new ones, as a network outage would."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.cut = False
        self.port = 0
        self.server = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader, writer) -> None:
        if self.cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pump(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers -= {writer, up_writer}

    def drop(self) -> None:
        self.cut = True
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self.cut = False

    async def close(self) -> None:
        self.drop()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def ami_link(rig_settings, asterisk):
    """The gateway reaches AMI through an AmiLink (listed before `gateway`)."""
    link = AmiLink(asterisk.ami_host, asterisk.ami_port)
    await link.start()
    rig_settings.ami.port = link.port
    yield link
    await link.close()


async def test_ami_cut_while_an_agent_is_connected_the_call_still_reaches_an_agent(ami_link, gateway, phones):
    agent = await phones.register_agent("1001", answer_after=1.0)
    number = new_number()
    call, waiting = await waiting_billing_caller(gateway, phones, number)
    ami_link.drop()
    await wait_for(lambda: not gateway.ami.connected, 5, "the gateway to notice AMI is gone")
    await gateway.acd.login("1001")  # booked at once; the connect (an AMI Redirect) cannot go out
    await asyncio.sleep(3)
    ops = [e["op"] for e in await gateway.acd.store.reservation_log()]
    assert ops[:2] == ["reserve", "free"]  # the first attempt failed, and freed the agent
    assert live_call(gateway, number).agent_id is None  # still on hold, not yet connected
    ami_link.restore()
    # Once AMI is back the caller reaches the agent: through the ACD's next attempt, or
    # through the fallback queue if the attempts ran out first. Either way, not left on hold.
    await agent.wait_answered(40)
    connected = await wait_for(lambda: (c := live_call(gateway, number)) and c.answered_at and c, 10, "answered")
    assert connected.agent_id == "1001"
    await call.hangup()
    ended = await ended_call(gateway, number)
    assert ended.outcome() == "answered"


@pytest.fixture
def two_quick_attempts(rig_settings):
    """The ACD gives up connecting after two attempts half a second apart (listed before `gateway`)."""
    rig_settings.acd.connect_attempts = 2
    rig_settings.acd.connect_retry_initial = 0.5


async def test_ami_cut_longer_than_the_connect_attempts_the_caller_reaches_the_fallback_queue(
        ami_link, two_quick_attempts, gateway, crm_db, phones):
    agent = await phones.register_agent("1001", answer_after=1.0)  # also a member of the fallback queue
    number = new_number()
    call, waiting = await waiting_billing_caller(gateway, phones, number)
    ami_link.drop()
    await wait_for(lambda: not gateway.ami.connected, 5, "the gateway to notice AMI is gone")
    await gateway.acd.login("1001")
    await asyncio.sleep(3)  # both attempts fail: the ACD lets the call go (connect_failed)
    assert await gateway.acd.store.load_call(waiting.linkedid) is None
    assert live_call(gateway, number).queue_exit is None  # still on hold: only AMI can move the caller
    ami_link.restore()
    await agent.wait_answered(60)  # app_queue's [ctigw-fallback] rang the agent
    connected = await wait_for(lambda: (c := live_call(gateway, number)) and c.answered_at and c, 10, "answered")
    assert (connected.queue_exit, connected.agent_id) == ("fallback", "1001")
    await call.hangup()
    ended = await ended_call(gateway, number)
    [row] = await wait_for(lambda: activities(crm_db, ended.linkedid), 10, "activity")
    assert row["outcome"] == "answered" and row["agent_id"] == "1001"
