"""AmiProtocol over a StringTransport, time on a task.Clock: login, actions, lists, keepalive."""
import asyncio
import re

import pytest
from ami_testkit import BANNER, DATA, FakeAsterisk, fixture, frame, md5_key, settle
from twisted.internet import task

from gateway.ami.dispatch import EventDispatcher
from gateway.ami.errors import AmiActionError, AmiNotConnected, AmiTimeout
from gateway.ami.protocol import AmiCredentials, AmiProtocol

SECRET = "s3cret"


class Listener:
    def __init__(self, on_ready=None):
        self.ready, self.refused, self.lost = [], [], []
        self.on_ready = on_ready

    def ami_ready(self, protocol):
        self.ready.append(protocol)
        if self.on_ready:
            self.on_ready(protocol)

    def ami_login_failed(self, protocol, reason):
        self.refused.append(reason)

    def ami_lost(self, protocol, reason):
        self.lost.append(reason)


class Rig:
    def __init__(self, auth="md5", on_ready=None, **kw):
        self.clock = task.Clock()
        self.dispatcher = EventDispatcher()
        self.listener = Listener(on_ready)
        self.events = []
        self.dispatcher.subscribe("*", self.events.append)
        self.protocol = AmiProtocol(AmiCredentials("ctigw", SECRET, auth), self.dispatcher, clock=self.clock,
                                    listener=self.listener, **kw)
        self.asterisk = FakeAsterisk(self.protocol)

    def names(self):
        return [e.event for e in self.events]


def logged_in(**kw) -> Rig:
    rig = Rig(**kw)
    rig.asterisk.login(SECRET)
    assert rig.protocol.ready
    return rig


# -- login --------------------------------------------------------------------------------

def test_plain_login_sends_exactly_this_and_becomes_ready():
    rig = Rig(auth="plain")
    assert rig.asterisk.transport.value() == b""  # nothing before the banner
    rig.asterisk.feed(BANNER)
    sent = rig.asterisk.transport.value()
    action_id = re.search(rb"ActionID: (\S+)", sent).group(1)
    assert sent == (b"Action: Login\r\nActionID: " + action_id + b"\r\nUsername: ctigw\r\nSecret: s3cret\r\n"
                    b"Events: on\r\n\r\n")
    assert rig.protocol.banner == "Asterisk Call Manager/11.0.0" and not rig.protocol.ready
    rig.asterisk.reply("Login", Response="Success", Message="Authentication accepted")
    assert rig.protocol.ready and rig.listener.ready == [rig.protocol]
    rig.asterisk.event("FullyBooted", Status="Fully Booted")
    assert rig.names() == ["FullyBooted"]


def test_md5_login_never_puts_the_secret_on_the_wire():
    rig = Rig(auth="md5")
    rig.asterisk.feed(BANNER)
    challenge = rig.asterisk.last_action()
    assert (challenge["Action"], challenge["AuthType"]) == ("Challenge", "MD5")
    rig.asterisk.reply(challenge, Response="Success", Challenge="102938475")
    login = rig.asterisk.last_action()
    assert login.pairs()[2:] == (("AuthType", "MD5"), ("Username", "ctigw"), ("Key", md5_key("102938475", SECRET)),
                                 ("Events", "on"))
    rig.asterisk.reply(login, Response="Success", Message="Authentication accepted")
    assert rig.protocol.ready
    assert SECRET.encode() not in rig.asterisk.transport.value()


def test_refused_login_reports_the_reason_and_drops_the_link():
    rig = Rig(auth="plain")
    rig.asterisk.feed(BANNER)
    rig.asterisk.reply("Login", Response="Error", Message="Authentication failed")
    assert rig.listener.refused == ["Authentication failed"]
    assert not rig.protocol.ready and rig.protocol.closed and len(rig.listener.lost) == 1


def test_unanswered_login_times_out():
    rig = Rig(auth="md5", action_timeout=5)
    rig.asterisk.feed(BANNER)
    rig.clock.advance(4.9)
    assert rig.listener.refused == []
    rig.clock.advance(0.2)
    assert "Challenge" in rig.listener.refused[0] and rig.protocol.closed


def test_no_banner_drops_the_link():
    rig = Rig(action_timeout=5)
    rig.clock.advance(5)
    assert rig.protocol.closed and rig.asterisk.transport.value() == b""


# -- actions ------------------------------------------------------------------------------

async def test_actions_are_matched_by_action_id_amid_events():
    rig = logged_in()
    first = rig.protocol.action("Setvar", {"Channel": "PJSIP/trunk-1", "Variable": "X", "Value": "1"})
    second = rig.protocol.action("Redirect", {"Channel": "PJSIP/trunk-1", "Context": "ctigw-connect",
                                              "Exten": "1001", "Priority": 1})
    setvar, redirect = [a for a in rig.asterisk.actions() if a["Action"] in ("Setvar", "Redirect")]
    assert redirect["Priority"] == "1" and setvar["ActionID"] != redirect["ActionID"]
    rig.asterisk.event("Newexten", Uniqueid="1.1", Linkedid="1.1")
    rig.asterisk.reply(redirect, Response="Success", Message="Redirect successful")
    rig.asterisk.event("VarSet", Uniqueid="1.1", Linkedid="1.1", ActionID=setvar["ActionID"])
    rig.asterisk.reply(setvar, Response="Success", Message="Variable Set")
    assert (await second)["Message"] == "Redirect successful"
    assert (await first)["Message"] == "Variable Set"
    assert rig.names() == ["FullyBooted", "Newexten", "VarSet"]
    assert rig.protocol.pending_actions == 0


async def test_error_response_raises_with_asterisk_message():
    rig = logged_in()
    future = rig.protocol.action("Redirect", {"Channel": "PJSIP/gone-1"})
    rig.asterisk.reply("Redirect", Response="Error", Message="Channel specified does not exist")
    with pytest.raises(AmiActionError, match="Channel specified does not exist") as err:
        await future
    assert err.value.response["Response"] == "Error"


async def test_action_timeout_then_a_late_answer_is_ignored():
    rig = logged_in(action_timeout=10)
    future = rig.protocol.action("Getvar", {"Variable": "X"}, timeout=3)
    rig.clock.advance(3)
    with pytest.raises(AmiTimeout, match="Getvar"):
        await future
    rig.asterisk.reply("Getvar", Response="Success", Value="late")
    rig.asterisk.event("Hangup", Uniqueid="2.2")
    assert rig.names()[-1] == "Hangup" and rig.protocol.pending_actions == 0


async def test_cancelled_caller_forgets_its_action():
    rig = logged_in()
    future = rig.protocol.action("Ping")
    future.cancel()
    await settle()
    assert rig.protocol.pending_actions == 0
    rig.asterisk.reply("Ping", Response="Success", Ping="Pong")  # answer to nobody: harmless


async def test_pending_actions_fail_when_the_link_drops():
    rig = logged_in()
    future = rig.protocol.action("Redirect", {"Channel": "c"})
    rig.asterisk.drop()
    with pytest.raises(AmiNotConnected):
        await future
    with pytest.raises(AmiNotConnected):
        rig.protocol.action("Ping")


def test_actions_before_login_are_refused():
    rig = Rig()
    with pytest.raises(AmiNotConnected):
        rig.protocol.action("Ping")


def test_line_breaks_in_fields_are_refused_before_anything_is_sent():
    rig = logged_in()
    before = rig.asterisk.transport.value()
    with pytest.raises(ValueError):
        rig.protocol.send_action("Setvar", {"Variable": "X", "Value": "1\r\nAction: Hangup"})
    with pytest.raises(ValueError):
        rig.protocol.send_action("Setvar", {"ActionID": "mine"})
    assert rig.asterisk.transport.value() == before and rig.protocol.pending_actions == 0


async def test_repeated_and_typed_fields():
    rig = logged_in()
    rig.protocol.action("Originate", {"Channel": "PJSIP/1001", "Variable": ["A=1", "B=2"], "Async": True,
                                      "Timeout": 30000, "Account": None})
    sent = rig.asterisk.last_action("Originate")
    assert sent.getall("Variable") == ["A=1", "B=2"] and sent["Async"] == "true"
    assert sent["Timeout"] == "30000" and "Account" not in sent


async def test_legacy_follows_reply_resolves_with_its_output():
    rig = logged_in()
    future = rig.protocol.action("Command", {"Command": "core show channels"})
    action_id = rig.asterisk.last_action("Command")["ActionID"]
    rig.asterisk.feed(b"Response: Follows\r\nPrivilege: Command\r\nActionID: " + action_id.encode() + b"\r\n"
                      b"Channel  Location  State\n\n0 active channels\n--END COMMAND--\r\n\r\n")
    reply = await future
    assert reply.response == "Follows" and reply.body.endswith("0 active channels")


# -- list actions -------------------------------------------------------------------------

async def test_list_action_gathers_its_events_and_leaves_others_to_subscribers():
    rig = logged_in()
    future = rig.protocol.action_list("CoreShowChannels")
    action_id = rig.asterisk.last_action("CoreShowChannels")["ActionID"]
    rig.asterisk.feed(frame(Response="Success", ActionID=action_id, EventList="start", Message="Channels will follow"))
    rig.asterisk.feed(frame(Event="CoreShowChannel", ActionID=action_id, Channel="PJSIP/a-1", Uniqueid="1.1"))
    rig.asterisk.event("Newchannel", Channel="PJSIP/b-2", Uniqueid="2.2")  # unrelated, interleaved
    rig.asterisk.feed(frame(Event="CoreShowChannel", ActionID=action_id, Channel="PJSIP/b-2", Uniqueid="2.2"))
    assert not future.done()
    rig.asterisk.feed(frame(Event="CoreShowChannelsComplete", ActionID=action_id, EventList="Complete",
                            ListItems="2"))
    response, events = await future
    assert response["EventList"] == "start"
    assert [e["Uniqueid"] for e in events] == ["1.1", "2.2"]
    assert rig.names() == ["FullyBooted", "Newchannel"]


async def test_list_action_error_and_timeout():
    rig = logged_in()
    failing = rig.protocol.action_list("QueueStatus", {"Queue": "nope"})
    rig.asterisk.reply("QueueStatus", Response="Error", Message="No such queue")
    with pytest.raises(AmiActionError, match="No such queue"):
        await failing
    slow = rig.protocol.action_list("CoreShowChannels", timeout=2)
    rig.asterisk.reply("CoreShowChannels", Response="Success", EventList="start")
    rig.clock.advance(2)
    with pytest.raises(AmiTimeout, match="no events"):
        await slow


async def test_list_action_without_events_list_resolves_empty():
    rig = logged_in()
    future = rig.protocol.action_list("Status", {"Channel": "x"})
    rig.asterisk.reply("Status", Response="Success", Message="nothing")
    assert (await future)[1] == []


# -- keepalive ----------------------------------------------------------------------------

def test_keepalive_pings_after_each_pong_and_drops_a_silent_link():
    rig = logged_in(keepalive_interval=20, action_timeout=5)
    rig.clock.advance(19.9)
    assert not [a for a in rig.asterisk.actions() if a["Action"] == "Ping"]
    rig.clock.advance(0.1)
    rig.asterisk.reply("Ping", Response="Success", Ping="Pong")
    rig.clock.advance(20)
    pings = [a for a in rig.asterisk.actions() if a["Action"] == "Ping"]
    assert len(pings) == 2
    rig.clock.advance(4.9)
    assert not rig.protocol.closed
    rig.clock.advance(0.1)  # second ping unanswered for action_timeout
    assert rig.protocol.closed and len(rig.listener.lost) == 1


# -- hostile or broken input --------------------------------------------------------------

def test_oversize_line_drops_the_connection_after_delivering_what_came_before():
    rig = logged_in(max_line=1024, max_frame=8192)
    rig.asterisk.feed(frame(Event="Before") + b"Event: Flood\r\nData: " + b"z" * 4096)
    assert rig.names()[-1] == "Before"
    assert rig.protocol.closed and len(rig.listener.lost) == 1
    rig.asterisk.feed(frame(Event="After"))  # whatever still arrives is ignored
    assert rig.names()[-1] == "Before"


def test_malformed_and_truncated_frames_do_not_stop_later_events():
    rig = logged_in()
    rig.asterisk.feed(b"this is not AMI\r\n\r\n\xff\xfe\x00\r\n\r\n:::\r\n\r\n")
    rig.asterisk.feed(b"Event: Broken\r\nno colon\r\n\r\n")
    rig.asterisk.feed(b"Response: Success\r\nActionID: unknown-id\r\n\r\n")
    rig.asterisk.event("Hangup", Uniqueid="3.3", Linkedid="3.3")
    assert rig.names() == ["FullyBooted", "Broken", "Hangup"]
    assert rig.events[-1]["Linkedid"] == "3.3" and not rig.protocol.closed
    rig.asterisk.feed(b"Event: Cut\r\nUniqueid: 4")
    rig.asterisk.drop()  # truncated frame at close: discarded, logged, no crash
    assert rig.names()[-1] == "Hangup"


def test_subscriber_exceptions_do_not_reach_the_protocol():
    rig = logged_in()

    def broken(msg):
        raise RuntimeError("bug in a subscriber")

    rig.dispatcher.subscribe("Hangup", broken)
    rig.asterisk.event("Hangup", Uniqueid="1")
    rig.asterisk.event("Hangup", Uniqueid="2")
    assert [e["Uniqueid"] for e in rig.events if e.event == "Hangup"] == ["1", "2"]


# -- recorded-shape streams (tests/data/ami) ----------------------------------------------

def channel_events(events):
    """Events of the call/dialplan classes about one channel (not e.g. a TestEvent naming one)."""
    return [e for e in events if "Channel" in e and (e.get("Privilege") or "").startswith(("call", "dialplan"))]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("session_*.bin")))
def test_every_recorded_session_replays_cleanly(name):
    stream = fixture(name)
    rig = Rig(auth="md5" if b"\nChallenge: " in stream else "plain")
    rig.asterisk.replay(stream)
    assert rig.protocol.ready or rig.listener.refused
    assert all(e.malformed_lines == 0 for e in rig.events)
    assert all(e.get("Uniqueid") and e.get("Linkedid") for e in channel_events(rig.events))


@pytest.mark.parametrize("name,auth", [("session_login_md5.bin", "md5"), ("session_login_plain.bin", "plain")])
def test_replayed_login_sessions(name, auth):
    rig = Rig(auth=auth)
    rig.asterisk.replay(fixture(name))
    # FullyBooted/SuccessfulAuth follow only if the AMI user may read system/security events
    assert rig.protocol.ready and not rig.listener.refused


def test_replayed_refused_login():
    rig = Rig(auth="plain")
    rig.asterisk.replay(fixture("session_login_refused.bin"))
    assert rig.listener.refused and not rig.protocol.ready


def test_replayed_inbound_call_reaches_subscribers_whole():
    rig = Rig(auth="md5")
    rig.asterisk.replay(fixture("session_inbound_call.bin"))
    assert rig.protocol.ready
    names = rig.names()
    for name in ("Newchannel", "DialBegin", "Hangup"):
        assert name in names
    channels = channel_events(rig.events)
    assert channels and all(e.get("Uniqueid") and e.get("Linkedid") for e in channels)
    started = {e["Linkedid"] for e in rig.events if e.event == "Newchannel"}
    assert {e["Linkedid"] for e in rig.events if e.event == "Hangup"} <= started
    assert all(e.malformed_lines == 0 for e in rig.events)


async def test_replayed_core_show_channels_list():
    results = []
    rig = Rig(auth="md5", on_ready=lambda p: results.append(p.send_action("CoreShowChannels", collect=True)))
    rig.asterisk.replay(fixture("session_core_show_channels.bin"))
    response, channels = results[0].result
    assert response["EventList"].lower() == "start"
    announced = re.search(rb"ListItems: (\d+)", fixture("session_core_show_channels.bin")).group(1)
    assert len(channels) == int(announced)
    assert all(c.event == "CoreShowChannel" and c.get("Uniqueid") and c.get("Linkedid") for c in channels)
    assert "CoreShowChannel" not in rig.names() and "CoreShowChannelsComplete" not in rig.names()


def test_reading_pauses_while_an_async_subscriber_is_far_behind():
    rig = logged_in()
    rig.dispatcher.max_backlog = 4

    async def slow(msg):
        await asyncio.sleep(3600)

    rig.dispatcher.subscribe("VarSet", slow)
    for i in range(3):
        rig.asterisk.event("VarSet", Value=str(i))
    assert rig.asterisk.transport.producerState == "producing"
    rig.asterisk.event("VarSet", Value="3")
    rig.asterisk.event("VarSet", Value="4")
    assert rig.asterisk.transport.producerState == "paused"
    rig.dispatcher.cancel_pending()
    assert rig.asterisk.transport.producerState == "producing"
