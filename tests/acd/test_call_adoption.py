"""A restarted gateway's adoption of the callers an earlier run left waiting (gateway.calls.adoption),
on the real ACD in real Redis; Asterisk's side is what CoreShowChannels and Getvar answer."""
import pytest

from gateway.calls.adoption import CallAdopter, CallCards, call_from_card
from gateway.calls.model import CallPhase
from gateway.calls.tracker import CallTracker
from gateway.routing import RouteRequest


class RecordingAmi:
    """The one AmiClient method the adopter uses: `action`, answering Getvar with the owners given."""

    def __init__(self, owners: dict[str, str] | None = None):
        self.owners = owners or {}
        self.actions: list[tuple[str, dict]] = []

    async def action(self, name, /, **fields):
        self.actions.append((name, fields))
        if name == "Getvar":
            return {"Response": "Success", "Value": self.owners.get(fields["Channel"], "")}
        return {"Response": "Success"}


async def lookup(raw_ani):
    return None  # an unknown caller: the view is not what these tests are about


def hold_channel(linkedid: str, context: str = "ctigw-hold") -> dict:
    return {"Channel": f"PJSIP/carrier-{linkedid}", "Uniqueid": linkedid, "Linkedid": linkedid, "Context": context}


async def first_run_queues(make_acd, redis_client, key_prefix, clock, *linkedids):
    """What the first run did before it died: cards written and calls queued, in this order."""
    acd = await make_acd()
    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: e, record_activity=_ignore, clock=clock)
    cards = CallCards(redis_client, key_prefix, "gw1")
    for linkedid in linkedids:
        call = tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{linkedid}",
                             raw_ani="+905551112233", dnis="100")
        call.ivr_path = ["language", "main_menu"]
        await tracker.ivr_finished(call)
        tracker.queued(call, "general")
        await cards.save(call)
        await acd.enqueue(linkedid, call.caller_channel, RouteRequest("general", ("general",), None, 1), None)
        clock.advance(5)
    await acd.stop()


async def _ignore(call):
    pass


async def restarted(make_acd, redis_client, key_prefix, clock, ami):
    acd = await make_acd()
    written = []

    async def record(call):
        written.append(call)

    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: e, record_activity=record, clock=clock)
    adopter = CallAdopter(cards=CallCards(redis_client, key_prefix, "gw1"), tracker=tracker, acd=acd,
                          lookup=lookup, ami=ami, clock=clock)
    return acd, tracker, adopter, written


async def test_waiting_callers_are_adopted_and_keep_their_order(make_acd, redis_client, key_prefix, clock):
    await first_run_queues(make_acd, redis_client, key_prefix, clock, "A", "B")
    ami = RecordingAmi()
    acd, tracker, adopter, written = await restarted(make_acd, redis_client, key_prefix, clock, ami)

    report = await adopter.adopt([hold_channel("B"), hold_channel("A", "ctigw-announce")])

    assert report.adopted == 2 and report.ended == 0 and report.sent_to_fallback == 0
    assert tracker.calls["A"].phase is CallPhase.QUEUED and tracker.calls["A"].ivr_path == ["language", "main_menu"]
    assert not [a for a in ami.actions if a[0] == "Redirect"]
    await acd.login("1002")  # general skill, free: takes the caller who has waited longest
    assert acd.connector.connects == [("A", "1002")]
    assert written == []


async def test_a_caller_who_left_while_the_gateway_was_down_is_one_activity_and_frees_the_place(
        make_acd, redis_client, key_prefix, clock):
    await first_run_queues(make_acd, redis_client, key_prefix, clock, "A", "B")
    acd, tracker, adopter, written = await restarted(make_acd, redis_client, key_prefix, clock, RecordingAmi())

    report = await adopter.adopt([hold_channel("B")])  # A hung up meanwhile

    assert report.ended == 1 and report.adopted == 1
    [ended] = written
    assert ended.linkedid == "A" and ended.outcome() == "abandoned_queue" and ended.queue == "general"
    assert await acd.store.load_call("A") is None
    await acd.login("1002")
    assert acd.connector.connects == [("B", "1002")]


async def test_a_held_caller_without_a_card_goes_to_the_fallback_unless_another_gateway_owns_it(
        make_acd, redis_client, key_prefix, clock):
    ami = RecordingAmi(owners={"PJSIP/carrier-X": "gw1", "PJSIP/carrier-Y": "gw2", "PJSIP/carrier-Z": ""})
    _, _, adopter, _ = await restarted(make_acd, redis_client, key_prefix, clock, ami)

    report = await adopter.adopt([hold_channel("X"), hold_channel("Y"), hold_channel("Z"),
                                  {"Channel": "PJSIP/1001-1", "Uniqueid": "W", "Linkedid": "W",
                                   "Context": "ctigw-agents"}])

    redirected = [f["Channel"] for name, f in ami.actions if name == "Redirect"]
    assert redirected == ["PJSIP/carrier-X", "PJSIP/carrier-Z"]  # ours, and nobody's; not gw2's
    assert all(f["Context"] == "ctigw-fallback" for name, f in ami.actions if name == "Redirect")
    assert report.sent_to_fallback == 2


async def test_cards_are_per_instance_and_dropped_when_the_call_is_over(redis_client, key_prefix, clock):
    from gateway.calls.model import Call

    ours, theirs = CallCards(redis_client, key_prefix, "gw1"), CallCards(redis_client, key_prefix, "gw2")
    call = Call(linkedid="A", caller_uniqueid="A", caller_channel="PJSIP/carrier-A", raw_ani="<script>'",
                dnis="100", started_at=clock.now)
    await ours.save(call)
    assert [c["raw_ani"] for c in await ours.owned()] == ["<script>'"]
    assert await theirs.owned() == []
    await ours.drop("A")
    assert await ours.owned() == []


@pytest.fixture(autouse=True)
async def no_cards_left(redis_client, key_prefix):
    yield
    async for key in redis_client.scan_iter(match=f"{key_prefix}:card*", count=1000):
        await redis_client.delete(key)


async def agent_dialled_before_the_restart(make_acd, redis_client, key_prefix, clock):
    acd = await make_acd()
    await acd.login("1001")
    await acd.start_outbound("1001", "out-1")
    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: e, record_activity=_ignore, clock=clock)
    call = await tracker.begin_outbound(linkedid="out-1", agent_id="1001", number="+905321234567")
    await CallCards(redis_client, key_prefix, "gw1").save(call)
    await acd.stop()


async def test_an_outbound_call_that_ended_while_the_gateway_was_down_frees_the_agent(make_acd, redis_client,
                                                                                      key_prefix, clock):
    await agent_dialled_before_the_restart(make_acd, redis_client, key_prefix, clock)
    acd, tracker, adopter, written = await restarted(make_acd, redis_client, key_prefix, clock, RecordingAmi())
    report = await adopter.adopt([])
    assert report.ended == 1
    (done,) = written
    assert (done.direction, done.agent_id, done.raw_ani) == ("outbound", "1001", "+905321234567")
    assert (await acd.get_agent_state("1001")).state.value == "available"


async def test_an_outbound_call_still_talking_is_followed_to_its_end(make_acd, redis_client, key_prefix, clock):
    await agent_dialled_before_the_restart(make_acd, redis_client, key_prefix, clock)
    acd, tracker, adopter, written = await restarted(make_acd, redis_client, key_prefix, clock, RecordingAmi())
    agent_leg = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "out-1", "Linkedid": "out-1",
                 "Context": "ctigw-outbound", "BridgeId": "b-1"}
    report = await adopter.adopt([agent_leg])
    assert report.adopted == 1 and tracker.calls["out-1"].phase is CallPhase.CONNECTED
    await tracker.resync(set())  # later: the agent's leg is gone
    (done,) = written
    assert done.outcome() == "answered"
    assert (await acd.get_agent_state("1001")).state.value == "wrap_up"


async def test_a_transferred_call_adopted_after_a_restart_still_names_the_first_agent(make_acd, redis_client,
                                                                                      key_prefix, clock):
    await first_run_queues(make_acd, redis_client, key_prefix, clock, "T")
    cards = CallCards(redis_client, key_prefix, "gw1")
    (card,) = await cards.owned()
    first = CallTracker(acd=None, agent_for_endpoint=lambda e: e, record_activity=_ignore, clock=clock)
    call = call_from_card(card, None)
    first.transferred_out(call, from_agent="1001", note="not: <i>acil</i>", to_queue="general")
    await cards.save(call)
    acd, tracker, adopter, written = await restarted(make_acd, redis_client, key_prefix, clock, RecordingAmi())
    await adopter.adopt([])
    (done,) = written
    assert done.transfers[0]["from_agent"] == "1001" and done.transfers[0]["note"] == "not: <i>acil</i>"
