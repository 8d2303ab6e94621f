"""The call state machine: what the ACD hears, what the desk pops, what the CRM gets."""
from gateway.calls.ami_bridge import to_call_event
from gateway.calls.events import (CallTransferred, ChannelHungUp, DialFinished, DialStarted, HoldChanged,
                                  OriginateFailed)
from gateway.calls.tracker import CallTracker
from gateway.crm.numbers import Ani, classify_ani
from gateway.crm.views import CallerView

from doubles import RecordingAcd, RecordingDesk


def Caller() -> CallerView:
    return CallerView(ani=classify_ani("05321234567", "TR"), known=True, customer_id=42, name="Çağrı Öztürk",
                      tier="gold")


def make_tracker():
    acd, written, desk = RecordingAcd(), [], RecordingDesk()

    async def record(call):
        written.append(call)

    endpoints = {"1001": "a1001", "1002": "a1002"}
    tracker = CallTracker(acd=acd, agent_for_endpoint=endpoints.get, record_activity=record,
                          desk=desk, clock=lambda: 100.0)
    call = tracker.begin(linkedid="L1", uniqueid="L1", channel="PJSIP/carrier-1", raw_ani="05321234567",
                         dnis="100", caller=Caller())
    call.ivr_path = ["language", "main_menu", "billing"]
    tracker.queued(call, "billing")
    return tracker, call, acd, written, desk


async def test_answered_call_pops_screen_and_writes_one_activity_with_talk_minus_hold():
    tracker, call, acd, written, desk = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    [(kind, agent, pop)] = desk.messages
    assert (kind, agent) == ("offer", "a1001")
    assert pop.caller.name == "Çağrı Öztürk"
    assert pop.ivr_path == ["language", "main_menu", "billing"]
    assert (pop.queue, pop.waited_seconds) == ("billing", 5.0)  # queued at 100, rang at 105
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    await tracker.handle(HoldChanged("L1", "L1", True, 120.0))
    await tracker.handle(HoldChanged("L1", "L1", False, 130.0))
    await tracker.handle(ChannelHungUp("L1", "L1.2", "PJSIP/1001-1", "16", 140.0))  # agent leg
    assert written == []
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 148.0))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 149.0))  # replayed
    assert len(written) == 1
    done = written[0]
    assert done.outcome() == "answered"
    assert done.wait_seconds == 8.0
    assert done.hold_seconds == 10.0
    assert done.talk_seconds == 30.0
    assert [c[0] for c in acd.calls] == ["agent_ringing", "agent_answered", "call_ended"]


async def test_ring_no_answer_tells_the_acd_and_the_call_waits_again():
    tracker, call, acd, written, _ = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "NOANSWER", 120.0))
    assert acd.calls[-1] == ("ring_no_answer", "a1001", "L1")
    assert call.agent_id is None and call.rona_agents == ["a1001"]
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-2", 121.0))
    await tracker.handle(DialFinished("L1", "1002", "ANSWER", 123.0))
    assert call.agent_id == "a1002"
    assert written == []


async def test_caller_hanging_up_in_queue_is_an_abandon_logged_once():
    tracker, call, acd, written, _ = make_tracker()
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 130.0))
    assert acd.calls == [("caller_abandoned", "L1")]
    assert [c.outcome() for c in written] == ["abandoned_queue"]
    assert tracker.calls == {}


async def test_hangup_during_ivr_waits_for_the_ivr_path_then_logs_abandoned_in_ivr():
    tracker = CallTracker(acd=RecordingAcd(), agent_for_endpoint=lambda e: None,
                          record_activity=lambda c: _append(written, c), clock=lambda: 5.0)
    written = []
    call = tracker.begin(linkedid="L9", uniqueid="L9", channel="PJSIP/carrier-9", raw_ani="", dnis="100")
    await tracker.handle(ChannelHungUp("L9", "L9", "PJSIP/carrier-9", "16", 9.0))
    assert written == []  # the AGI handler still holds the call
    call.ivr_path, call.ivr_outcome = ["language", "main_menu"], "abandoned"
    await tracker.ivr_finished(call)
    assert [(c.outcome(), c.ivr_path, c.ended_at) for c in written] == [("abandoned_ivr", ["language", "main_menu"], 9.0)]
    assert tracker.acd.calls == []


async def _append(lst, item):
    lst.append(item)


async def test_resync_ends_calls_whose_channel_vanished_while_ami_was_away():
    tracker, call, acd, written, _ = make_tracker()
    tracker.queued(tracker.begin(linkedid="L2", uniqueid="L2", channel="PJSIP/carrier-2", raw_ani="x", dnis="100"), "q")
    assert await tracker.resync({"L2"}) == 1
    assert [c.linkedid for c in written] == ["L1"]
    assert written[0].outcome() == "abandoned_queue"
    assert "L2" in tracker.calls


async def test_a_failing_activity_write_does_not_break_the_tracker():
    async def broken(call):
        raise ConnectionError("db down")

    tracker = CallTracker(acd=None, agent_for_endpoint=lambda e: None, record_activity=broken)
    await tracker.ivr_finished(tracker.begin(linkedid="L3", uniqueid="L3", channel="c", raw_ani="", dnis=""))
    await tracker.handle(ChannelHungUp("L3", "L3", "c", "16", 1.0))
    assert tracker.calls == {}


def test_ami_events_map_to_tracker_events():
    begin = to_call_event({"Event": "DialBegin", "Linkedid": "1700.1", "DestChannel": "PJSIP/1001-0000002a",
                           "DialString": "1001", "Timestamp": "1700000000.5"})
    assert begin == DialStarted("1700.1", "1001", "PJSIP/1001-0000002a", 1700000000.5)
    end = to_call_event({"Event": "DialEnd", "Linkedid": "1700.1", "DestChannel": "PJSIP/1001-0000002a",
                         "DialStatus": "NOANSWER", "Timestamp": "1700000015"})
    assert end.status == "NOANSWER" and end.endpoint == "1001"
    assert to_call_event({"Event": "Newexten", "Linkedid": "1"}) is None
    assert to_call_event({"Event": "Hangup"}) is None  # no linkedid: not a call event


async def test_a_call_the_agent_transferred_is_logged_as_transferred():
    tracker, call, acd, written, _ = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    await tracker.handle(to_call_event({"Event": "BlindTransfer", "Result": "Success", "TransfererLinkedid": "L1",
                                        "TransfereeLinkedid": "L1", "Extension": "2000", "Timestamp": "130"}))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 150.0))
    assert [c.outcome() for c in written] == ["transferred"]


def test_only_successful_transfers_count():
    assert to_call_event({"Event": "AttendedTransfer", "Result": "Fail", "OrigTransfererLinkedid": "L1"}) is None
    assert to_call_event({"Event": "AttendedTransfer", "Result": "Success", "OrigTransfererLinkedid": "L1",
                          "Timestamp": "5"}) == CallTransferred("L1", 5.0)


def KnownCaller():
    return CallerView(ani=Ani("number", "+905321234567", "+90 532 123 45 67", "TR"), known=True, customer_id=1,
                      name="Çağrı Öztürk")


async def test_a_caller_sent_to_voicemail_from_the_queue_is_logged_as_voicemail_with_the_recording():
    tracker, call, acd, written, _ = make_tracker()
    tracker.left_queue("L1", "voicemail", recording="/var/spool/asterisk/ctigw-voicemail/L1.wav")
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 160.0))
    [done] = written
    assert done.outcome() == "voicemail"
    assert done.ivr_inputs["voicemail"] == "/var/spool/asterisk/ctigw-voicemail/L1.wav"
    assert done.queue == "billing"


async def test_a_callback_request_from_the_queue_is_logged_with_the_callers_number():
    tracker, call, acd, written, _ = make_tracker()
    number = tracker.callback_number("L1")
    assert number == "+905321234567"
    tracker.left_queue("L1", "callback", callback_number=number)
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 130.0))
    [done] = written
    assert (done.outcome(), done.ivr_inputs["callback_number"]) == ("callback", "+905321234567")


def test_a_caller_whose_number_the_crm_could_not_read_cannot_be_called_back():
    tracker, call, *_ = make_tracker()
    call.caller = CallerView(ani=classify_ani("anonymous", "TR"))
    assert tracker.callback_number("L1") is None
    assert tracker.callback_number("no-such-call") is None


async def test_a_caller_sent_to_the_fallback_queue_is_answered_there_or_abandons_it():
    tracker, call, acd, written, _ = make_tracker()
    tracker.left_queue("L1", "fallback")
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 160.0))
    assert written[0].outcome() == "abandoned_queue"
    tracker, call, acd, written, _ = make_tracker()
    tracker.left_queue("L1", "fallback")
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-1", 161.0))  # app_queue rings an agent
    await tracker.handle(DialFinished("L1", "1002", "ANSWER", 164.0))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 200.0))
    assert (written[0].outcome(), written[0].agent_id) == ("answered", "a1002")


# -- the agent's desk: offer, answered, withdrawn, ended ------------------------------------

async def test_the_desk_hears_offer_then_answered_then_ended_all_for_the_ringing_agent():
    tracker, call, acd, written, desk = make_tracker()
    tracker.offered("L1", "a1001", {"rule": "best_proficiency", "candidates": 3, "proficiency": {"billing": 9}})
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 148.0))
    assert desk.told() == [("offer", "a1001"), ("answered", "a1001"), ("ended", "a1001")]
    offer, answered, ended = (m[2] for m in desk.messages)
    assert offer.routing.rule == "best_proficiency" and offer.routing.proficiency == {"billing": 9}
    assert offer.answered_at is None and answered.answered_at == 108.0
    assert ended.call_id == "L1"


async def test_a_caller_hanging_up_while_the_phone_rings_withdraws_the_pop():
    tracker, call, acd, written, desk = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "CANCEL", 109.0))  # Asterisk cancels the Dial first
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 109.0))
    assert desk.told() == [("offer", "a1001"), ("withdrawn", "a1001", "caller_hung_up")]


async def test_ring_no_answer_withdraws_the_first_pop_and_offers_the_next_agent_with_their_own_reason():
    tracker, call, acd, written, desk = make_tracker()
    tracker.offered("L1", "a1001", {"rule": "best_proficiency"})
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "NOANSWER", 120.0))
    tracker.offered("L1", "a1002", {"rule": "only_candidate"})
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-2", 121.0))
    assert desk.told() == [("offer", "a1001"), ("withdrawn", "a1001", "no_answer"), ("offer", "a1002")]
    assert desk.messages[-1][2].routing.rule == "only_candidate"


async def test_when_a_queue_rings_two_agents_the_one_who_did_not_answer_sees_it_taken_elsewhere():
    tracker, call, acd, written, desk = make_tracker()
    tracker.left_queue("L1", "fallback")
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 161.0))
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-1", 161.0))
    await tracker.handle(DialFinished("L1", "1002", "ANSWER", 164.0))
    await tracker.handle(DialFinished("L1", "1001", "CANCEL", 164.0))
    assert desk.told() == [("offer", "a1001"), ("offer", "a1002"), ("answered", "a1002"),
                           ("withdrawn", "a1001", "taken_elsewhere")]
    assert all(m[2].routing is None for m in desk.messages)  # the ACD did not choose them


async def test_a_failing_desk_loses_a_pop_never_the_call():
    tracker, call, acd, written, desk = make_tracker()

    async def broken(agent_id, pop):
        raise ConnectionError("redis down")

    desk.offer = broken
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    assert [c[0] for c in acd.calls] == ["agent_ringing", "agent_answered"]
    assert desk.told() == [("answered", "a1001")]


async def test_an_agent_who_transfers_the_caller_goes_to_after_call_work_at_once_and_only_once():
    tracker, call, acd, written, desk = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    await tracker.handle(to_call_event({"Event": "BlindTransfer", "Result": "Success", "TransfereeLinkedid": "L1",
                                        "Timestamp": "130"}))
    assert desk.told()[-1] == ("ended", "a1001")
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 150.0))  # later, elsewhere
    assert desk.told() == [("offer", "a1001"), ("answered", "a1001"), ("ended", "a1001")]


async def test_a_call_moved_on_while_the_phone_rang_is_withdrawn_as_transferred():
    tracker, call, acd, written, desk = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(to_call_event({"Event": "BlindTransfer", "Result": "Success", "TransfereeLinkedid": "L1",
                                        "Timestamp": "107"}))
    assert desk.told() == [("offer", "a1001"), ("withdrawn", "a1001", "transferred")]

async def test_a_blind_transfer_keeps_one_activity_naming_both_agents_and_pops_the_note():
    tracker, call, acd, written, desk = make_tracker()
    await tracker.handle(DialStarted("L1", "1001", "PJSIP/1001-1", 105.0))
    await tracker.handle(DialFinished("L1", "1001", "ANSWER", 108.0))
    note = "<script>alert(1)</script> müşteri faturayı sordu"
    tracker.transferred_out(call, from_agent="a1001", note=note, to_queue="support")
    await tracker.handle(ChannelHungUp("L1", "L1.2", "PJSIP/1001-1", "16", 120.0))  # the first agent's leg
    assert written == [] and call.phase.value == "queued"
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-2", 125.0))
    kind, agent, pop = desk.messages[-1]
    assert (kind, agent) == ("offer", "a1002")
    assert (pop.transfer.from_agent, pop.transfer.note) == ("a1001", note)
    assert pop.queue == "support"
    await tracker.handle(DialFinished("L1", "1002", "ANSWER", 127.0))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-1", "16", 160.0))
    (done,) = written
    assert done.outcome() == "transferred"
    assert done.agent_id == "a1002" and [t["from_agent"] for t in done.transfers] == ["a1001"]
    assert done.answered_at == 108.0 and done.talk_seconds == 52.0
    assert [c[0] for c in acd.calls] == ["agent_ringing", "agent_answered", "agent_ringing", "agent_answered",
                                         "call_ended"]


def make_outbound():
    tracker, _call, acd, written, desk = make_tracker()
    acd.calls.clear()
    desk.messages.clear()
    return tracker, acd, written, desk


async def test_click_to_dial_pops_the_customer_on_the_agent_and_writes_one_outbound_activity():
    tracker, acd, written, desk = make_outbound()
    call = await tracker.begin_outbound(linkedid="out-1", agent_id="a1001", number="+905321234567", caller=Caller())
    [(kind, agent, pop)] = desk.messages
    assert (kind, agent, pop.direction) == ("offer", "a1001", "outbound")
    assert pop.caller.name == "Çağrı Öztürk"
    await tracker.handle(DialStarted("out-1", "pstn", "PJSIP/pstn-1", 104.0))  # agent picked up
    assert [m[0] for m in desk.messages] == ["offer"]  # the agent's own phone: not yet talking
    await tracker.handle(DialFinished("out-1", "pstn", "ANSWER", 110.0))
    assert [m[:2] for m in desk.messages[1:]] == [("answered", "a1001")]  # the customer answered
    await tracker.handle(ChannelHungUp("out-1", "out-1.1", "PJSIP/pstn-1", "16", 150.0))  # the customer's leg
    assert written == []
    await tracker.handle(ChannelHungUp("out-1", "out-1", "PJSIP/1001-1", "16", 150.5))
    (done,) = written
    assert done is call and (done.direction, done.outcome(), done.agent_id) == ("outbound", "answered", "a1001")
    assert done.talk_seconds == 40.5
    assert acd.calls == [("agent_leg_ended", "a1001", "out-1", {"wrapup": True})]


async def test_an_outbound_call_the_agent_never_took_frees_them_without_wrap_up():
    tracker, acd, written, _ = make_outbound()
    await tracker.begin_outbound(linkedid="out-2", agent_id="a1001", number="+905321234567")
    await tracker.handle(OriginateFailed("out-2", "no answer", 120.0))
    await tracker.handle(ChannelHungUp("out-2", "out-2", "PJSIP/1001-1", "19", 120.1))
    (done,) = written
    assert done.outcome() == "no_answer"
    assert acd.calls == [("agent_leg_ended", "a1001", "out-2", {"wrapup": False})]


async def test_an_outbound_call_the_customer_did_not_answer_is_no_answer():
    tracker, acd, written, _ = make_outbound()
    await tracker.begin_outbound(linkedid="out-3", agent_id="a1001", number="+905321234567")
    await tracker.handle(DialStarted("out-3", "pstn", "PJSIP/pstn-1", 104.0))
    await tracker.handle(DialFinished("out-3", "pstn", "BUSY", 106.0))
    await tracker.handle(ChannelHungUp("out-3", "out-3", "PJSIP/1001-1", "16", 107.0))
    (done,) = written
    assert (done.outcome(), done.dial_status) == ("no_answer", "BUSY")
