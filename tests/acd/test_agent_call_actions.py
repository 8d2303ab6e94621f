"""The desk's call actions (gateway.calls.agent_actions) on the real ACD and call tracker: who
may dial and transfer, and what happens when Asterisk or the ACD cannot do its part."""
import pytest

from gateway.acd.model import CallState
from gateway.routing import RouteRequest
from gateway.acd.states import AgentState
from gateway.calls.agent_actions import ActionFailed, AgentCallActions, CallRefused, NotYourCall
from gateway.calls.events import ChannelHungUp, DialFinished, DialStarted, OriginateFailed
from gateway.calls.tracker import CallTracker
from gateway.crm.numbers import classify_ani
from gateway.crm.views import CallerView

from doubles import RecordingDesk

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)


class Asterisk:
    """The call layer's hands on channels and the dialler (CallerOnHold and Dialler)."""

    def __init__(self):
        self.actions: list[tuple] = []
        self.fail_hold = False
        self.fail_originate = False

    async def return_to_hold(self, channel: str) -> None:
        if self.fail_hold:
            raise ConnectionError("AMI is down")
        self.actions.append(("hold", channel))

    async def to_fallback(self, channel: str) -> None:
        self.actions.append(("fallback", channel))

    async def originate(self, *, endpoint: str, number: str, call_id: str, owner: str) -> None:
        if self.fail_originate:
            raise ConnectionError("AMI is down")
        self.actions.append(("originate", endpoint, number, call_id, owner))


@pytest.fixture
async def desk(make_acd):
    acd = await make_acd()
    written, pops = [], RecordingDesk()

    async def record(call):
        written.append(call)

    async def lookup(number):
        return CallerView(ani=classify_ani(number, "TR"), known=True, customer_id=1, name="Çağrı Öztürk")

    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: acd.roster.by_endpoint(e).id
                          if acd.roster.by_endpoint(e) else None, record_activity=record, desk=pops)
    asterisk = Asterisk()
    actions = AgentCallActions(acd=acd, tracker=tracker, asterisk=asterisk, dialler=asterisk, lookup=lookup,
                               instance="gw-1", default_region="TR")
    return actions, acd, tracker, asterisk, written, pops


async def connected(actions, acd, tracker, agent="1001", linkedid="L1"):
    call = tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{linkedid}",
                         raw_ani="+905551112233", dnis="100")
    tracker.queued(call, "billing")
    await tracker.ivr_finished(call)
    await acd.enqueue(linkedid, call.caller_channel, TR_BILLING)
    await tracker.handle(DialStarted(linkedid, agent, f"PJSIP/{agent}-1", 1.0))
    await tracker.handle(DialFinished(linkedid, agent, "ANSWER", 2.0))
    assert (await acd.get_agent_state(agent)).state is AgentState.ON_CALL
    return call


async def test_dial_books_the_agent_pops_the_customer_and_originates_their_phone_first(desk):
    actions, acd, tracker, asterisk, written, pops = desk
    await acd.login("1001")
    call = await actions.dial("1001", "0532 123 45 67")
    assert asterisk.actions == [("originate", "1001", "+905321234567", call.linkedid, "gw_1")]
    [(kind, agent, pop)] = pops.messages
    assert (kind, agent, pop.caller.number_e164) == ("offer", "1001", "+905321234567")
    status = await acd.get_agent_state("1001")
    assert (status.state, status.call_id) == (AgentState.ON_CALL, call.linkedid)
    with pytest.raises(CallRefused, match="on_call"):
        await actions.dial("1001", "05321234568")
    await tracker.handle(OriginateFailed(call.linkedid, "reason 3", 9.0))  # the agent did not pick up
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    assert [c.outcome() for c in written] == ["no_answer"]


async def test_dial_refuses_bad_numbers_and_logged_out_agents_before_touching_anything(desk):
    actions, acd, tracker, asterisk, written, _ = desk
    with pytest.raises(CallRefused, match="only digits"):
        await actions.dial("1001", "05321234567;Dial(PJSIP/1002)")
    with pytest.raises(CallRefused, match="logged out"):
        await actions.dial("1001", "05321234567")
    with pytest.raises(CallRefused, match="unknown agent"):
        await actions.dial("<script>", "05321234567")
    assert asterisk.actions == [] and tracker.calls == {} and written == []


async def test_a_dial_asterisk_cannot_place_frees_the_agent_and_says_so(desk):
    actions, acd, tracker, asterisk, written, _ = desk
    await acd.login("1001")
    asterisk.fail_originate = True
    with pytest.raises(ActionFailed, match="could not be placed"):
        await actions.dial("1001", "05321234567")
    assert (await acd.get_agent_state("1001")).state is AgentState.AVAILABLE
    assert tracker.calls == {} and [c.outcome() for c in written] == ["no_answer"]


async def test_only_the_agent_talking_to_the_caller_may_transfer(desk):
    actions, acd, tracker, asterisk, _, _ = desk
    await acd.login("1001")
    await acd.login("1002")
    call = await connected(actions, acd, tracker)
    for agent, linkedid in (("1002", "L1"), ("1001", "no-such-call"), ("1001", None)):
        with pytest.raises(NotYourCall):
            await actions.transfer_to_queue(agent, linkedid, "support", "")
    with pytest.raises(CallRefused, match="no queue"):
        await actions.transfer_to_queue("1001", "L1", "../../etc/passwd", "")
    with pytest.raises(CallRefused, match="too long"):
        await actions.transfer_to_queue("1001", "L1", "support", "x" * 1001)
    with pytest.raises(CallRefused, match="control characters"):
        await actions.transfer_to_queue("1001", "L1", "support", "ok\x1b[2J")
    with pytest.raises(CallRefused, match="already yours"):
        await actions.transfer_to_agent("1001", "L1", "1001", "")
    with pytest.raises(CallRefused, match="logged out"):
        await actions.transfer_to_agent("1001", "L1", "1003", "")
    assert asterisk.actions == [] and call.transfers == [] and call.agent_id == "1001"


async def test_a_transfer_Asterisk_refuses_leaves_the_agent_talking(desk):
    actions, acd, tracker, asterisk, _, _ = desk
    await acd.login("1001")
    call = await connected(actions, acd, tracker)
    asterisk.fail_hold = True
    with pytest.raises(ActionFailed):
        await actions.transfer_to_queue("1001", "L1", "support", "note")
    assert call.transfers == [] and call.agent_id == "1001"
    assert (await acd.get_agent_state("1001")).state is AgentState.ON_CALL


async def test_a_transfer_to_a_named_agent_puts_the_caller_on_hold_for_them_alone(desk):
    actions, acd, tracker, asterisk, written, pops = desk
    await acd.login("1001")
    await acd.login("1003")  # free, billing 9: would be chosen for billing, but the call is for 1002
    call = await connected(actions, acd, tracker)
    await acd.login("1002", ready=False)
    await actions.transfer_to_agent("1001", "L1", "1002", "Mehmet Bey'i istedi")
    assert asterisk.actions == [("hold", "PJSIP/carrier-L1")]
    kind, agent, pop = pops.messages[-1]  # the first agent's screen: the call is over for them
    assert (kind, agent, pop.call_id, pop.transfer) == ("ended", "1001", "L1", None)
    queued = await acd.store.load_call("L1")
    assert (queued.state, queued.required_agent, queued.queue) == (CallState.WAITING, "1002", "billing")
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP
    await acd.ready("1002")
    assert acd.connector.connects[-1] == ("L1", "1002")
    await tracker.handle(DialStarted("L1", "1002", "PJSIP/1002-2", 3.0))
    kind, agent, pop = pops.messages[-1]
    assert (kind, agent) == ("offer", "1002")
    assert (pop.transfer.from_agent, pop.transfer.note) == ("1001", "Mehmet Bey'i istedi")
    await tracker.handle(DialFinished("L1", "1002", "ANSWER", 4.0))
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-L1", "16", 9.0))
    (done,) = written
    assert done is call and done.agent_id == "1002" and done.transfers[0]["to_agent"] == "1002"
    assert (await acd.get_agent_state("1002")).state is AgentState.WRAP_UP


async def test_a_caller_the_acd_cannot_take_back_goes_to_the_fallback_queue_not_to_a_silent_hold(desk):
    actions, acd, tracker, asterisk, written, _ = desk
    await acd.login("1001")
    call = await connected(actions, acd, tracker)
    await acd.store.redis.delete(acd.store.keys.call("L1"))  # the ACD lost the call (Redis flushed)
    with pytest.raises(ActionFailed, match="fallback"):
        await actions.transfer_to_queue("1001", "L1", "support", "")
    assert asterisk.actions == [("hold", "PJSIP/carrier-L1"), ("fallback", "PJSIP/carrier-L1")]
    assert (await acd.get_agent_state("1001")).state is AgentState.WRAP_UP  # not left on a call for ever
    await tracker.handle(ChannelHungUp("L1", "L1", "PJSIP/carrier-L1", "16", 9.0))
    (done,) = written
    assert done is call and done.queue_exit == "fallback" and done.transfers[0]["from_agent"] == "1001"
