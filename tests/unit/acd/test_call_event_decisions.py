"""What each call-layer report decides, without Redis."""
from gateway.acd import call_events, states
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.states import AgentState, AgentStatus


def offered(now=100.0):
    agent = states.reserve(states.login(AgentStatus("a1"), 1.0), now, "c1", "billing")
    call = QueuedCall("c1", "chan", "billing", ("billing",), "tr", 0, 90.0, 90.0, 90.0,
                      state=CallState.RESERVED, agent_id="a1", version=2)
    return call, agent


def test_ringing_and_answer_move_both_along():
    call, agent = offered()
    change = call_events.ringing("a1", "c1")(call, agent, 101.0)
    assert (change.agent.new.state, change.call.new.state) == (AgentState.RINGING, CallState.RINGING)
    change = call_events.answered("a1", "c1")(change.call.new, change.agent.new, 104.0)
    assert (change.agent.new.state, change.call.new.state) == (AgentState.ON_CALL, CallState.CONNECTED)


def test_reports_about_someone_elses_offer_change_nothing():
    call, _ = offered()
    other = states.login(AgentStatus("a2"), 1.0)
    for decide in (call_events.ringing("a2", "c1"), call_events.answered("a2", "c1"),
                   call_events.ring_no_answer("a2", "c1"), call_events.connect_failed("a2", 3, lambda n: 1.0)):
        assert decide(call, other, 101.0) is None


def test_ring_no_answer_sends_the_call_back_to_the_head():
    call, agent = offered()
    change = call_events.ring_no_answer("a1", "c1")(call, agent, 115.0)
    assert (change.agent.new.state, change.agent.new.reason) == (AgentState.NOT_READY, "RONA")
    back = change.call.new
    assert (back.state, back.agent_id, back.rona_agents, change.call.at_head) == \
        (CallState.WAITING, None, ("a1",), True)


def test_the_end_of_a_call_depends_on_whether_it_was_answered():
    call, agent = offered()
    abandoned = call_events.call_over(lambda q: 15)(call, agent, 102.0)
    assert abandoned.agent.new.state is AgentState.AVAILABLE and abandoned.freed_agent is not None
    assert (abandoned.call.new, abandoned.call.removed_reason) == (None, "abandoned")
    talking = call.advanced(state=CallState.CONNECTED)
    on_call = states.answered(agent, 103.0, "c1")
    ended = call_events.call_over(lambda q: 15)(talking, on_call, 200.0)
    assert (ended.agent.new.state, ended.agent.new.wrapup_until, ended.freed_agent) == (AgentState.WRAP_UP, 215.0, None)
    assert ended.call.removed_reason == "ended"
    assert call_events.call_over(lambda q: 15)(None, None, 1.0) is None
    waiting = QueuedCall("c2", "chan", "billing", ("billing",), "tr", 0, 90.0, 90.0, 90.0)
    gone = call_events.call_over(lambda q: 15)(waiting, None, 100.0)
    assert gone.agent is None and gone.call.removed_reason == "abandoned"


def test_a_failed_connect_retries_after_its_delay_then_gives_up():
    call, agent = offered()
    delays = {1: 1.0, 2: 2.0}
    change = call_events.connect_failed("a1", 3, delays.__getitem__)(call, agent, 101.0)
    assert change.call.new.connect_failures == 1 and change.call.at_head
    assert change.call.new.retry_at == 102.0
    assert change.agent.new.state is AgentState.AVAILABLE
    again = QueuedCall(**{**call.__dict__, "connect_failures": 1})
    assert call_events.connect_failed("a1", 3, delays.__getitem__)(again, agent, 110.0).call.new.retry_at == 112.0
    last = QueuedCall(**{**call.__dict__, "connect_failures": 2})
    change = call_events.connect_failed("a1", 3, delays.__getitem__)(last, agent, 101.0)
    assert (change.call.new, change.call.removed_reason) == (None, "connect_failed")
