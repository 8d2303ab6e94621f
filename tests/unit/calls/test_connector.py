"""The ACD's connector: never an announcement after a connect on one channel; every queue
outcome takes the caller somewhere, the fallback queue when all else fails."""
import asyncio
from types import SimpleNamespace

from gateway.acd.model import QueueOutcome
from gateway.ami.errors import AmiActionError, AmiNotConnected
from gateway.calls.ami_bridge import AmiConnector, AmiDialler
from gateway.calls.events import OriginateFailed


class SlowAmi:
    """Records actions in the order they reach Asterisk; each takes a little while."""

    def __init__(self):
        self.sent = []

    async def action(self, name, **fields):
        await asyncio.sleep(0.01)
        self.sent.append((name, fields.get("Context") or fields.get("Variable")))


async def test_an_announcement_in_flight_finishes_before_the_connect_and_none_follows():
    ami = SlowAmi()
    connector = AmiConnector(ami, ring_timeout=15)
    call, agent = SimpleNamespace(channel="PJSIP/carrier-1"), SimpleNamespace(endpoint="1001")
    announcing = asyncio.ensure_future(connector.announce(call, 2, 130))
    await asyncio.sleep(0.005)  # the announcement's first Setvar is on its way
    await asyncio.gather(announcing, connector.connect(call, agent), connector.announce(call, 1, 10))
    redirects = [ctx for name, ctx in ami.sent if name == "Redirect"]
    assert redirects == ["ctigw-announce", "ctigw-connect"]  # the connect is last, nothing after
    assert ("Setvar", "CTIGW_WAIT_MINUTES") in ami.sent  # 130 s -> 3 minutes, rounded up


async def test_announcements_go_on_for_a_caller_no_connect_has_started_for():
    ami = SlowAmi()
    connector = AmiConnector(ami, ring_timeout=15)
    waiting = SimpleNamespace(channel="PJSIP/carrier-2")
    await connector.announce(waiting, 3, None)
    await connector.announce(waiting, 2, 60)
    assert [ctx for name, ctx in ami.sent if name == "Redirect"] == ["ctigw-announce", "ctigw-announce"]


class Ami:
    """The AmiClient calls the connector makes (action, wait_connected), against a link that
    can be down, and an Asterisk that can refuse a Redirect to some context."""

    def __init__(self, refuse_contexts=()):
        self.sent = []
        self.up = asyncio.Event()
        self.up.set()
        self.refuse_contexts = set(refuse_contexts)

    async def action(self, name, **fields):
        if not self.up.is_set():
            raise AmiNotConnected(f"cannot send {name}: not connected")
        if fields.get("Context") in self.refuse_contexts:
            raise AmiActionError("Redirect failed")
        self.sent.append((name, fields))

    async def wait_connected(self, timeout=None):
        await asyncio.wait_for(self.up.wait(), timeout)

    def redirects(self):
        return [f["Context"] for name, f in self.sent if name == "Redirect"]

    def variables(self):
        return {f["Variable"]: f["Value"] for name, f in self.sent if name == "Setvar"}


class Calls:
    """The call layer's side (QueueExits): numbers to call back, where callers went."""

    def __init__(self, numbers=None):
        self.numbers = numbers or {}
        self.left = []
        self.offers = []

    def offered(self, call_id, agent_id, reason):
        self.offers.append((call_id, agent_id, reason))

    def callback_number(self, call_id):
        return self.numbers.get(call_id)

    def left_queue(self, call_id, where, *, recording=None, callback_number=None):
        self.left.append((call_id, where, recording or callback_number))


WAITING = SimpleNamespace(call_id="1700000000.42", channel="PJSIP/carrier-00000042", queue="billing")


def outcome(kind):
    return QueueOutcome(kind, WAITING.call_id, WAITING.queue, None, 30.0)


async def test_a_voicemail_step_records_the_caller_into_the_voicemail_folder():
    ami, calls = Ami(), Calls()
    connector = AmiConnector(ami, ring_timeout=15, voicemail_dir="/var/spool/vm/", calls=calls)
    await connector.queue_outcome(WAITING, outcome("voicemail"))
    assert ami.redirects() == ["ctigw-queue-voicemail"]
    assert ami.variables() == {"CTIGW_VOICEMAIL_FILE": "/var/spool/vm/1700000000.42.wav"}
    assert calls.left == [(WAITING.call_id, "voicemail", "/var/spool/vm/1700000000.42.wav")]


async def test_a_callback_step_records_a_request_on_the_callers_number():
    ami, calls = Ami(), Calls({WAITING.call_id: "+905321234567"})
    await AmiConnector(ami, ring_timeout=15, calls=calls).queue_outcome(WAITING, outcome("callback"))
    assert ami.redirects() == ["ctigw-queue-callback"]
    assert ami.variables() == {"CTIGW_CALLBACK_NUMBER": "+905321234567"}
    assert calls.left == [(WAITING.call_id, "callback", "+905321234567")]


async def test_a_caller_who_cannot_be_called_back_goes_to_the_fallback_queue_instead():
    ami, calls = Ami(), Calls()
    await AmiConnector(ami, ring_timeout=15, calls=calls).queue_outcome(WAITING, outcome("callback"))
    assert ami.redirects() == ["ctigw-fallback"]
    assert calls.left == [(WAITING.call_id, "fallback", None)]


async def test_failed_connects_and_outcomes_nobody_knows_send_the_caller_to_the_fallback_queue():
    for kind in ("connect_failed", "something_new"):
        ami, calls = Ami(), Calls()
        await AmiConnector(ami, ring_timeout=15, calls=calls).queue_outcome(WAITING, outcome(kind))
        assert ami.redirects() == ["ctigw-fallback"]
        assert calls.left == [(WAITING.call_id, "fallback", None)]


async def test_an_overflow_leaves_the_caller_on_hold():
    ami, calls = Ami(), Calls()
    await AmiConnector(ami, ring_timeout=15, calls=calls).queue_outcome(WAITING, outcome("overflow"))
    assert ami.sent == [] and calls.left == []


async def test_a_refused_voicemail_redirect_still_gets_the_caller_out_to_the_fallback_queue():
    ami, calls = Ami(refuse_contexts={"ctigw-queue-voicemail"}), Calls()
    await AmiConnector(ami, ring_timeout=15, calls=calls).queue_outcome(WAITING, outcome("voicemail"))
    assert ami.redirects() == ["ctigw-fallback"]
    assert calls.left == [(WAITING.call_id, "fallback", None)]


async def test_with_ami_down_the_caller_is_moved_as_soon_as_it_is_back():
    ami, calls = Ami(), Calls()
    ami.up.clear()
    connector = AmiConnector(ami, ring_timeout=15, calls=calls)
    await connector.queue_outcome(WAITING, outcome("voicemail"))  # returns at once: the ACD is not held up
    assert ami.sent == [] and calls.left == []
    ami.up.set()
    await asyncio.sleep(0.05)
    assert ami.redirects() == ["ctigw-queue-voicemail"]
    assert calls.left[0][1] == "voicemail"


async def test_no_announcement_pulls_a_caller_out_of_voicemail():
    ami = Ami()
    connector = AmiConnector(ami, ring_timeout=15, calls=Calls())
    await connector.queue_outcome(WAITING, outcome("voicemail"))
    await connector.announce(WAITING, 1, 30)
    assert ami.redirects() == ["ctigw-queue-voicemail"]


async def test_a_connect_tells_the_call_layer_why_the_agent_was_chosen_before_the_phone_rings():
    from gateway.acd.reasons import MatchReason

    class Ordered(Ami):
        async def action(self, name, **fields):
            await super().action(name, **fields)
            self.sent.append(("offers so far", len(calls.offers)))

    ami, calls = Ordered(), Calls()
    why = MatchReason("best_proficiency", 3, 0, 5, None, ("billing",), "tr", (("billing", 9),), 42.0)
    booked = SimpleNamespace(call_id=WAITING.call_id, channel=WAITING.channel, match=why)
    await AmiConnector(ami, ring_timeout=15, calls=calls).connect(booked, SimpleNamespace(id="1001", endpoint="1001"))
    assert calls.offers == [(WAITING.call_id, "1001", why.to_dict())]
    assert ("offers so far", 0) not in ami.sent  # told before the Setvar and the Redirect
    assert ami.redirects() == ["ctigw-connect"]


async def test_a_caller_transferred_back_to_hold_is_announced_again_until_the_next_connect():
    ami = SlowAmi()
    connector = AmiConnector(ami, ring_timeout=15)
    call, agent = SimpleNamespace(channel="PJSIP/carrier-3"), SimpleNamespace(endpoint="1001")
    await connector.connect(call, agent)
    await connector.announce(call, 1, 10)  # talking to the agent: no announcement
    await connector.return_to_hold(call.channel)
    await connector.announce(call, 1, 10)
    await connector.connect(call, SimpleNamespace(endpoint="1004"))
    await connector.announce(call, 1, 10)
    assert [ctx for name, ctx in ami.sent if name == "Redirect"] == [
        "ctigw-connect", "ctigw-hold", "ctigw-announce", "ctigw-connect"]


class OriginatingAmi:
    """The AmiClient calls the dialler makes: `on` to follow OriginateResponse, `action`."""

    def __init__(self):
        self.handlers = {}
        self.sent = []

    def on(self, name, handler):
        self.handlers[name] = handler

    async def action(self, name, **fields):
        self.sent.append((name, fields))
        return {"Response": "Success"}


class Tracker:
    def __init__(self):
        self.events = []

    async def handle(self, event):
        self.events.append(event)


async def test_click_to_dial_originates_the_agent_into_the_outbound_context_with_the_call_id():
    ami, tracker = OriginatingAmi(), Tracker()
    dialler = AmiDialler(ami, ring_timeout=15)
    dialler.attach(tracker)
    await dialler.originate(endpoint="1001", number="+905321234567", call_id="out-gw1-1", owner="gw1")
    ((name, fields),) = ami.sent
    assert name == "Originate" and fields["Channel"] == "PJSIP/1001" and fields["Context"] == "ctigw-outbound"
    assert (fields["Exten"], fields["ChannelId"], fields["Async"]) == ("+905321234567", "out-gw1-1", "true")
    assert "CTIGW_OWNER=gw1" in fields["Variable"] and fields["Timeout"] == "15000"
    respond = ami.handlers["OriginateResponse"]
    await respond({"Response": "Failure", "Channel": "PJSIP/1002", "Uniqueid": "<null>", "Reason": "0"})  # not ours
    await respond({"Response": "Failure", "Channel": "PJSIP/1001", "Uniqueid": "<null>", "Reason": "3",
                   "Timestamp": "1764600000.5"})
    await respond({"Response": "Failure", "Channel": "PJSIP/1001", "Uniqueid": "<null>", "Reason": "3"})  # replay
    assert tracker.events == [OriginateFailed("out-gw1-1", "reason 3", 1764600000.5)]


async def test_an_agent_who_picks_up_is_left_to_the_dialplan():
    ami, tracker = OriginatingAmi(), Tracker()
    dialler = AmiDialler(ami, ring_timeout=15)
    dialler.attach(tracker)
    await dialler.originate(endpoint="1001", number="+905321234567", call_id="out-gw1-2", owner="gw1")
    respond = ami.handlers["OriginateResponse"]
    await respond({"Response": "Success", "Channel": "PJSIP/1001-0000002a", "Uniqueid": "out-gw1-2"})
    await respond({"Response": "Failure", "Channel": "PJSIP/1001", "Uniqueid": "<null>", "Reason": "5"})  # stale
    assert tracker.events == []
